//! Numbers as people read them: `494.0 M` parameters, `2.98 GB` of memory (SI units, as
//! llama.cpp and Ollama print sizes).

/// A count with an SI suffix: 950, 12.3 K, 494.0 M, 6.7 B.
pub fn count(n: u64) -> String {
    scaled(n as f64, &["", " K", " M", " B", " T"])
}

/// Bytes in SI units: 512 B, 1.5 kB, 2.98 GB.
pub fn bytes(n: u64) -> String {
    if n < 1000 {
        return format!("{n} B");
    }
    scaled(n as f64, &[" B", " kB", " MB", " GB", " TB"])
}

fn scaled(mut v: f64, units: &[&str]) -> String {
    if v < 1000.0 {
        return format!("{v:.0}{}", units[0]);
    }
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    // 494.0 M, 12.3 K, 2.98 GB: one decimal from 10 up, two below.
    let digits = if v >= 10.0 { 1 } else { 2 };
    format!("{v:.digits$}{}", units[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_people_read_them() {
        assert_eq!(count(494_032_768), "494.0 M");
        assert_eq!(count(950), "950");
        assert_eq!(count(1_777_088_000), "1.78 B");
        assert_eq!(bytes(2_978_443_264), "2.98 GB");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1_500), "1.50 kB");
        assert_eq!(count(12_345), "12.3 K");
    }
}
