//! `weight.bin`: Core ML's "blob storage v2" weight file.
//!
//! Layout (little-endian, 64-byte alignment): a 64-byte header (`u32 count`, `u32 version = 2`,
//! then zeros); then per blob, at the next 64-aligned offset, a 64-byte metadata record
//! (`u32 sentinel 0xDEADBEEF`, `u32 dtype`, `u64 size_in_bytes`, `u64 data_offset` = record
//! offset + 64, `u64 padding_size_in_bits`, then zeros) followed by the data. A const op points
//! at a blob with the offset of its metadata record. The first record is at 64, its data at 128.

use crate::CoremlError;

/// Alignment of every metadata record.
pub const ALIGNMENT: usize = 64;
/// Size of the file header and of each metadata record.
pub const RECORD_SIZE: usize = 64;
/// Marks the start of a metadata record.
pub const SENTINEL: u32 = 0xDEAD_BEEF;
/// Storage format version written in the header.
pub const VERSION: u32 = 2;

/// Element types of a blob (the storage format's own numbering, not MIL's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum BlobDType {
    Float16 = 1,
    Float32 = 2,
    UInt8 = 3,
    Int8 = 4,
    BFloat16 = 5,
    Int16 = 6,
    UInt16 = 7,
    Int4 = 8,
    UInt1 = 9,
    UInt2 = 10,
    UInt4 = 11,
    UInt3 = 12,
    UInt6 = 13,
    Int32 = 14,
    UInt32 = 15,
}

impl BlobDType {
    /// Packed types of fewer than 8 bits per value.
    pub fn is_sub_byte(self) -> bool {
        use BlobDType::*;
        matches!(self, Int4 | UInt1 | UInt2 | UInt3 | UInt4 | UInt6)
    }

    /// The unsigned packed type of `bits` bits per value.
    pub fn unsigned_bits(bits: u8) -> Option<BlobDType> {
        use BlobDType::*;
        Some(match bits {
            1 => UInt1,
            2 => UInt2,
            3 => UInt3,
            4 => UInt4,
            6 => UInt6,
            8 => UInt8,
            _ => return None,
        })
    }

    pub fn from_u32(v: u32) -> Option<BlobDType> {
        use BlobDType::*;
        Some(match v {
            1 => Float16,
            2 => Float32,
            3 => UInt8,
            4 => Int8,
            5 => BFloat16,
            6 => Int16,
            7 => UInt16,
            8 => Int4,
            9 => UInt1,
            10 => UInt2,
            11 => UInt4,
            12 => UInt3,
            13 => UInt6,
            14 => Int32,
            15 => UInt32,
            _ => return None,
        })
    }
}

/// Appends blobs and produces the file bytes.
#[derive(Debug, Clone)]
pub struct BlobWriter {
    buf: Vec<u8>,
    count: u32,
}

impl Default for BlobWriter {
    fn default() -> Self {
        BlobWriter::new()
    }
}

impl BlobWriter {
    pub fn new() -> BlobWriter {
        BlobWriter {
            buf: vec![0; RECORD_SIZE],
            count: 0,
        }
    }

    /// Append one blob of whole bytes; returns the offset of its metadata record.
    pub fn add(&mut self, dtype: BlobDType, data: &[u8]) -> Result<u64, CoremlError> {
        self.add_padded(dtype, data, 0)
    }

    /// [`Blobs::add`] for packed sub-byte data whose last byte holds `padding_bits` (< 8)
    /// unused bits.
    pub fn add_padded(&mut self, dtype: BlobDType, data: &[u8], padding_bits: u8) -> Result<u64, CoremlError> {
        let record = self.buf.len().next_multiple_of(ALIGNMENT);
        let end = record
            .checked_add(RECORD_SIZE)
            .and_then(|n| n.checked_add(data.len()))
            .filter(|&n| u64::try_from(n).is_ok())
            .ok_or_else(|| {
                CoremlError::TooLarge("weight.bin exceeds the addressable size".into())
            })?;
        self.count = self
            .count
            .checked_add(1)
            .ok_or_else(|| CoremlError::TooLarge("more than 2^32 weight blobs".into()))?;
        self.buf.reserve(end - self.buf.len());
        self.buf.resize(record, 0);
        self.buf.extend_from_slice(&SENTINEL.to_le_bytes());
        self.buf.extend_from_slice(&(dtype as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&(data.len() as u64).to_le_bytes());
        self.buf
            .extend_from_slice(&((record + RECORD_SIZE) as u64).to_le_bytes());
        self.buf.extend_from_slice(&u64::from(padding_bits).to_le_bytes());
        self.buf.resize(record + RECORD_SIZE, 0);
        self.buf.extend_from_slice(data);
        Ok(record as u64)
    }

    /// The finished file (header filled in).
    pub fn finish(mut self) -> Vec<u8> {
        self.buf[0..4].copy_from_slice(&self.count.to_le_bytes());
        self.buf[4..8].copy_from_slice(&VERSION.to_le_bytes());
        self.buf
    }
}

/// One blob as read back from a weight file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRecord {
    /// Offset of the metadata record (what a const op refers to).
    pub offset: u64,
    pub dtype: BlobDType,
    pub data_offset: u64,
    pub data: Vec<u8>,
}

/// Parse a weight file written by `BlobWriter`, checking header, sentinels, alignment and
/// bounds. Used by tests and tools; never trusts the file.
pub fn read_blobs(file: &[u8]) -> Result<Vec<BlobRecord>, String> {
    let u32_at = |o: usize| -> Result<u32, String> {
        file.get(o..o + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| format!("truncated at {o}"))
    };
    let u64_at = |o: usize| -> Result<u64, String> {
        file.get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| format!("truncated at {o}"))
    };
    if file.len() < RECORD_SIZE {
        return Err("shorter than the header".into());
    }
    let count = u32_at(0)?;
    let version = u32_at(4)?;
    if version != VERSION {
        return Err(format!("version {version}, expected {VERSION}"));
    }
    if file[8..RECORD_SIZE].iter().any(|&b| b != 0) {
        return Err("non-zero reserved header bytes".into());
    }
    let mut out = Vec::new();
    let mut pos = RECORD_SIZE;
    for i in 0..count {
        let record = pos.next_multiple_of(ALIGNMENT);
        if u32_at(record)? != SENTINEL {
            return Err(format!("blob {i}: no sentinel at {record}"));
        }
        let dtype = BlobDType::from_u32(u32_at(record + 4)?)
            .ok_or_else(|| format!("blob {i}: unknown dtype"))?;
        let size = usize::try_from(u64_at(record + 8)?).map_err(|e| e.to_string())?;
        let data_offset = u64_at(record + 16)?;
        if data_offset != (record + RECORD_SIZE) as u64 {
            return Err(format!(
                "blob {i}: data offset {data_offset} does not follow its record at {record}"
            ));
        }
        let padding = u64_at(record + 24)?;
        if padding != 0 && !(dtype.is_sub_byte() && padding < 8) {
            return Err(format!("blob {i}: padding of {padding} bits for {dtype:?} data"));
        }
        if file[record + 32..record + RECORD_SIZE]
            .iter()
            .any(|&b| b != 0)
        {
            return Err(format!("blob {i}: non-zero reserved record bytes"));
        }
        let start = record + RECORD_SIZE;
        let data = file
            .get(start..start + size)
            .ok_or_else(|| format!("blob {i}: data out of bounds"))?;
        out.push(BlobRecord {
            offset: record as u64,
            dtype,
            data_offset,
            data: data.to_vec(),
        });
        pos = start + size;
    }
    if pos != file.len() {
        return Err(format!(
            "{} trailing bytes after the last blob",
            file.len() - pos
        ));
    }
    Ok(out)
}
