//! The subset of the Core ML protobuf schema (package `CoreML.Specification`, MIL in
//! `CoreML.Specification.MILSpec`) that an ML Program needs, written by hand as prost messages.
//!
//! Field numbers follow Apple's `Model.proto`, `FeatureTypes.proto` and `MIL.proto` (see
//! ../shared/design.md section 5). Every proto `map` is a `BTreeMap`, so maps are encoded in key
//! order and the bytes are a pure function of the content. Fields and oneof variants this
//! exporter never writes are left out; prost skips unknown fields when decoding.

#![allow(clippy::derive_partial_eq_without_eq)]

use std::collections::BTreeMap;

// ---- Model.proto ------------------------------------------------------------------------------

/// `CoreML.Specification.Model`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Model {
    #[prost(int32, tag = "1")]
    pub specification_version: i32,
    #[prost(message, optional, tag = "2")]
    pub description: Option<ModelDescription>,
    #[prost(bool, tag = "10")]
    pub is_updatable: bool,
    #[prost(oneof = "model::Type", tags = "502")]
    pub r#type: Option<model::Type>,
}

pub mod model {
    /// The `Type` oneof of `Model`; only ML Programs are written.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Type {
        #[prost(message, tag = "502")]
        MlProgram(super::Program),
    }
}

/// `CoreML.Specification.ModelDescription`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelDescription {
    #[prost(message, repeated, tag = "1")]
    pub input: Vec<FeatureDescription>,
    #[prost(message, repeated, tag = "10")]
    pub output: Vec<FeatureDescription>,
    #[prost(message, optional, tag = "100")]
    pub metadata: Option<Metadata>,
}

/// `CoreML.Specification.Metadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Metadata {
    #[prost(string, tag = "1")]
    pub short_description: String,
    #[prost(string, tag = "2")]
    pub version_string: String,
    #[prost(string, tag = "3")]
    pub author: String,
    #[prost(string, tag = "4")]
    pub license: String,
    #[prost(btree_map = "string, string", tag = "100")]
    pub user_defined: BTreeMap<String, String>,
}

/// `CoreML.Specification.FeatureDescription`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FeatureDescription {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub short_description: String,
    #[prost(message, optional, tag = "3")]
    pub r#type: Option<FeatureType>,
}

/// `CoreML.Specification.FeatureType` (FeatureTypes.proto).
#[derive(Clone, PartialEq, prost::Message)]
pub struct FeatureType {
    #[prost(bool, tag = "1000")]
    pub is_optional: bool,
    #[prost(oneof = "feature_type::Type", tags = "5")]
    pub r#type: Option<feature_type::Type>,
}

pub mod feature_type {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Type {
        #[prost(message, tag = "5")]
        MultiArrayType(super::ArrayFeatureType),
    }
}

/// `CoreML.Specification.ArrayFeatureType`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ArrayFeatureType {
    #[prost(int64, repeated, tag = "1")]
    pub shape: Vec<i64>,
    #[prost(enumeration = "ArrayDataType", tag = "2")]
    pub data_type: i32,
}

/// `ArrayFeatureType.ArrayDataType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ArrayDataType {
    InvalidArrayDataType = 0,
    Float32 = 65568,
    Double = 65600,
    Int32 = 131104,
    Int8 = 131080,
    Float16 = 65552,
}

// ---- MIL.proto --------------------------------------------------------------------------------

/// `MILSpec.Program`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Program {
    #[prost(int64, tag = "1")]
    pub version: i64,
    #[prost(btree_map = "string, message", tag = "2")]
    pub functions: BTreeMap<String, Function>,
    #[prost(string, tag = "3")]
    pub doc_string: String,
    #[prost(btree_map = "string, message", tag = "4")]
    pub attributes: BTreeMap<String, Value>,
}

/// `MILSpec.Function`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Function {
    #[prost(message, repeated, tag = "1")]
    pub inputs: Vec<NamedValueType>,
    #[prost(string, tag = "2")]
    pub opset: String,
    #[prost(btree_map = "string, message", tag = "3")]
    pub block_specializations: BTreeMap<String, Block>,
    #[prost(btree_map = "string, message", tag = "4")]
    pub attributes: BTreeMap<String, Value>,
}

/// `MILSpec.Block`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Block {
    #[prost(message, repeated, tag = "1")]
    pub inputs: Vec<NamedValueType>,
    #[prost(string, repeated, tag = "2")]
    pub outputs: Vec<String>,
    #[prost(message, repeated, tag = "3")]
    pub operations: Vec<Operation>,
    #[prost(btree_map = "string, message", tag = "4")]
    pub attributes: BTreeMap<String, Value>,
}

/// `MILSpec.Argument`: one op input, bound to one value (or several, for tuple inputs).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Argument {
    #[prost(message, repeated, tag = "1")]
    pub arguments: Vec<argument::Binding>,
}

pub mod argument {
    /// `Argument.Binding`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Binding {
        #[prost(oneof = "binding::Binding", tags = "1, 2")]
        pub binding: Option<binding::Binding>,
    }

    pub mod binding {
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Binding {
            #[prost(string, tag = "1")]
            Name(String),
            #[prost(message, tag = "2")]
            Value(super::super::Value),
        }
    }
}

/// `MILSpec.Operation`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Operation {
    #[prost(string, tag = "1")]
    pub r#type: String,
    #[prost(btree_map = "string, message", tag = "2")]
    pub inputs: BTreeMap<String, Argument>,
    #[prost(message, repeated, tag = "3")]
    pub outputs: Vec<NamedValueType>,
    #[prost(message, repeated, tag = "4")]
    pub blocks: Vec<Block>,
    #[prost(btree_map = "string, message", tag = "5")]
    pub attributes: BTreeMap<String, Value>,
}

/// `MILSpec.NamedValueType`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedValueType {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<ValueType>,
}

/// `MILSpec.ValueType`; only tensor types are written.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueType {
    #[prost(oneof = "value_type::Type", tags = "1")]
    pub r#type: Option<value_type::Type>,
}

pub mod value_type {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Type {
        #[prost(message, tag = "1")]
        TensorType(super::TensorType),
    }
}

/// `MILSpec.TensorType`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorType {
    #[prost(enumeration = "DataType", tag = "1")]
    pub data_type: i32,
    #[prost(int64, tag = "2")]
    pub rank: i64,
    #[prost(message, repeated, tag = "3")]
    pub dimensions: Vec<Dimension>,
    #[prost(btree_map = "string, message", tag = "4")]
    pub attributes: BTreeMap<String, Value>,
}

/// `MILSpec.Dimension`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dimension {
    #[prost(oneof = "dimension::Dimension", tags = "1, 2")]
    pub dimension: Option<dimension::Dimension>,
}

pub mod dimension {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Dimension {
        #[prost(message, tag = "1")]
        Constant(ConstantDimension),
        #[prost(message, tag = "2")]
        Unknown(UnknownDimension),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ConstantDimension {
        #[prost(uint64, tag = "1")]
        pub size: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct UnknownDimension {
        #[prost(bool, tag = "1")]
        pub variadic: bool,
    }
}

/// `MILSpec.Value`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    #[prost(string, tag = "1")]
    pub doc_string: String,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<ValueType>,
    #[prost(oneof = "value::Value", tags = "3, 5")]
    pub value: Option<value::Value>,
}

pub mod value {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(message, tag = "3")]
        ImmediateValue(ImmediateValue),
        #[prost(message, tag = "5")]
        BlobFileValue(BlobFileValue),
    }

    /// `Value.ImmediateValue`; only tensors are written.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ImmediateValue {
        #[prost(oneof = "immediate_value::Value", tags = "1")]
        pub value: Option<immediate_value::Value>,
    }

    pub mod immediate_value {
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Value {
            #[prost(message, tag = "1")]
            Tensor(super::super::TensorValue),
        }
    }

    /// `Value.BlobFileValue`: `offset` is that of the blob's metadata record in the file.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BlobFileValue {
        #[prost(string, tag = "1")]
        pub file_name: String,
        #[prost(uint64, tag = "2")]
        pub offset: u64,
    }
}

/// `MILSpec.TensorValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorValue {
    #[prost(oneof = "tensor_value::Value", tags = "1, 2, 3, 4, 5, 6, 7")]
    pub value: Option<tensor_value::Value>,
}

pub mod tensor_value {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(message, tag = "1")]
        Floats(RepeatedFloats),
        #[prost(message, tag = "2")]
        Ints(RepeatedInts),
        #[prost(message, tag = "3")]
        Bools(RepeatedBools),
        #[prost(message, tag = "4")]
        Strings(RepeatedStrings),
        #[prost(message, tag = "5")]
        LongInts(RepeatedLongInts),
        #[prost(message, tag = "6")]
        Doubles(RepeatedDoubles),
        #[prost(message, tag = "7")]
        Bytes(RepeatedBytes),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RepeatedFloats {
        #[prost(float, repeated, tag = "1")]
        pub values: Vec<f32>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RepeatedDoubles {
        #[prost(double, repeated, tag = "1")]
        pub values: Vec<f64>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RepeatedInts {
        #[prost(int32, repeated, tag = "1")]
        pub values: Vec<i32>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RepeatedLongInts {
        #[prost(int64, repeated, tag = "1")]
        pub values: Vec<i64>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RepeatedBools {
        #[prost(bool, repeated, tag = "1")]
        pub values: Vec<bool>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RepeatedStrings {
        #[prost(string, repeated, tag = "1")]
        pub values: Vec<String>,
    }
    /// Raw little-endian element bytes (float16, int8, uint8 and sub-byte types).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RepeatedBytes {
        #[prost(bytes = "vec", tag = "1")]
        pub values: Vec<u8>,
    }
}

/// `MILSpec.DataType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum DataType {
    UnusedType = 0,
    Bool = 1,
    String = 2,
    Float16 = 10,
    Float32 = 11,
    Float64 = 12,
    Bfloat16 = 13,
    Int8 = 21,
    Int16 = 22,
    Int32 = 23,
    Int64 = 24,
    Int4 = 25,
    Uint8 = 31,
    Uint16 = 32,
    Uint32 = 33,
    Uint64 = 34,
    Uint4 = 35,
    Uint2 = 36,
    Uint1 = 37,
    Uint6 = 38,
    Uint3 = 39,
}

impl DataType {
    /// The dtype spelling MIL uses in `cast` and in program text.
    pub fn mil_name(self) -> &'static str {
        match self {
            DataType::Bool => "bool",
            DataType::String => "string",
            DataType::Float16 => "fp16",
            DataType::Float32 => "fp32",
            DataType::Float64 => "fp64",
            DataType::Bfloat16 => "bf16",
            DataType::Int8 => "int8",
            DataType::Int16 => "int16",
            DataType::Int32 => "int32",
            DataType::Int64 => "int64",
            DataType::Int4 => "int4",
            DataType::Uint8 => "uint8",
            DataType::Uint16 => "uint16",
            DataType::Uint32 => "uint32",
            DataType::Uint64 => "uint64",
            DataType::Uint4 => "uint4",
            DataType::Uint2 => "uint2",
            DataType::Uint1 => "uint1",
            DataType::Uint6 => "uint6",
            DataType::Uint3 => "uint3",
            DataType::UnusedType => "unused",
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DataType::Float16 | DataType::Float32)
    }

    /// Bytes per stored value of a float type (the weight-size trade-offs).
    pub fn byte_size(self) -> usize {
        if self == DataType::Float32 { 4 } else { 2 }
    }
}

// ---- constructors -----------------------------------------------------------------------------

/// A tensor `ValueType` with static dims (rank 0 is a scalar).
pub fn tensor_type(dtype: DataType, shape: &[usize]) -> ValueType {
    ValueType {
        r#type: Some(value_type::Type::TensorType(TensorType {
            data_type: dtype as i32,
            rank: shape.len() as i64,
            dimensions: shape
                .iter()
                .map(|&d| Dimension {
                    dimension: Some(dimension::Dimension::Constant(
                        dimension::ConstantDimension { size: d as u64 },
                    )),
                })
                .collect(),
            attributes: BTreeMap::new(),
        })),
    }
}

/// An immediate tensor value.
pub fn immediate(dtype: DataType, shape: &[usize], data: tensor_value::Value) -> Value {
    Value {
        doc_string: String::new(),
        r#type: Some(tensor_type(dtype, shape)),
        value: Some(value::Value::ImmediateValue(value::ImmediateValue {
            value: Some(value::immediate_value::Value::Tensor(TensorValue {
                value: Some(data),
            })),
        })),
    }
}

/// A scalar string value (op `name` attributes, `pad_type`, `mode`, ...).
pub fn string_value(s: &str) -> Value {
    immediate(
        DataType::String,
        &[],
        tensor_value::Value::Strings(tensor_value::RepeatedStrings {
            values: vec![s.to_string()],
        }),
    )
}

/// A value stored in a weight file at the offset of its metadata record.
pub fn blob_value(dtype: DataType, shape: &[usize], file_name: &str, offset: u64) -> Value {
    Value {
        doc_string: String::new(),
        r#type: Some(tensor_type(dtype, shape)),
        value: Some(value::Value::BlobFileValue(value::BlobFileValue {
            file_name: file_name.to_string(),
            offset,
        })),
    }
}

/// A named tensor type (op outputs, function inputs).
pub fn named(name: &str, dtype: DataType, shape: &[usize]) -> NamedValueType {
    NamedValueType {
        name: name.to_string(),
        r#type: Some(tensor_type(dtype, shape)),
    }
}

/// An argument bound to one inline value (iOS18 constexpr ops take their data this way).
pub fn argument_value(value: Value) -> Argument {
    Argument {
        arguments: vec![argument::Binding {
            binding: Some(argument::binding::Binding::Value(value)),
        }],
    }
}

/// An argument bound to the values named `names` (one for plain inputs, several for tuples).
/// Whether `a` binds the value named `name`.
pub fn argument_reads(a: &Argument, name: &str) -> bool {
    a.arguments.iter().any(|b| matches!(&b.binding, Some(argument::binding::Binding::Name(n)) if n == name))
}

pub fn argument_names<S: AsRef<str>>(names: &[S]) -> Argument {
    Argument {
        arguments: names
            .iter()
            .map(|n| argument::Binding {
                binding: Some(argument::binding::Binding::Name(n.as_ref().to_string())),
            })
            .collect(),
    }
}
