//! Number formatting for people: sizes, counts, shapes.

/// `2.54 MiB (2,661,740 bytes)`-style sizes, short form only.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.prec$} {unit}", prec = if v < 10.0 { 2 } else { 1 })
}

/// Milliseconds with about three significant digits: `0.412 ms`, `3.27 ms`, `41.3 ms`, `1,204 ms`.
pub fn ms(v: f64) -> String {
    match v {
        v if v < 1.0 => format!("{v:.3} ms"),
        v if v < 10.0 => format!("{v:.2} ms"),
        v if v < 100.0 => format!("{v:.1} ms"),
        v if v.is_finite() => format!("{} ms", grouped(v.round() as u64)),
        _ => "–".into(),
    }
}

/// A bare axis number: `0.1`, `2`, `50`, `1000`.
pub fn number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A budget's latency: `33 ms`, `5 s`.
pub fn ms_short(v: f64) -> String {
    if v >= 1000.0 { format!("{} s", number(v / 1000.0)) } else { format!("{} ms", number(v)) }
}

/// `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `665.4 K`, `90.90 M`, `1.21 G`.
pub fn count(n: u64) -> String {
    let f = n as f64;
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1} K", f / 1e3),
        1_000_000..1_000_000_000 => format!("{:.2} M", f / 1e6),
        _ => format!("{:.2} G", f / 1e9),
    }
}

/// `[1, 3, 224, 224]`.
pub fn shape(dims: &[usize]) -> String {
    let inner: Vec<String> = dims.iter().map(usize::to_string).collect();
    format!("[{}]", inner.join(", "))
}

/// `x=1,3,224,224` for the input-shape field.
pub fn shape_arg(name: &str, dims: &[usize]) -> String {
    let inner: Vec<String> = dims.iter().map(usize::to_string).collect();
    format!("{name}={}", inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(2_661_740), "2.54 MiB");
        assert_eq!(bytes(20 * 1024 * 1024), "20.0 MiB");
        assert_eq!(grouped(2_661_740), "2,661,740");
        assert_eq!(grouped(999), "999");
        assert_eq!(count(665_400), "665.4 K");
        assert_eq!(count(90_900_000), "90.90 M");
        assert_eq!(shape(&[1, 3, 224, 224]), "[1, 3, 224, 224]");
        assert_eq!(shape_arg("x", &[1, 16]), "x=1,16");
        assert_eq!(ms(0.41234), "0.412 ms");
        assert_eq!(ms(3.271), "3.27 ms");
        assert_eq!(ms(1204.4), "1,204 ms");
        assert_eq!((number(0.1), number(2.0), number(1000.0)), ("0.1".into(), "2".into(), "1000".into()));
        assert_eq!((ms_short(33.0), ms_short(5000.0)), ("33 ms".into(), "5 s".into()));
    }
}
