//! CPU time and resident memory of a process, read from `/proc`.

use std::time::Duration;

/// Linux reports `utime` and `stime` in clock ticks of `USER_HZ`, which the
/// kernel fixes at 100 for user space on every architecture it exports
/// `/proc` to.
const USER_HZ: u64 = 100;

/// User plus system CPU time of process `pid` ("self" for this one).
pub fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, field 2, is in parentheses and may hold spaces:
    // count fields from the last ')'.
    let rest = stat.get(stat.rfind(')')?.saturating_add(1)..)?;
    let mut fields = rest.split_ascii_whitespace();
    // After ')' come field 3 (state) onwards; utime is field 14, stime 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime.saturating_add(stime);
    Some(Duration::from_millis(ticks.saturating_mul(1000) / USER_HZ))
}

/// Resident set size of process `pid` in bytes (`VmRSS`).
pub fn rss_bytes(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib.saturating_mul(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        assert!(rss_bytes("self").unwrap() > 0);
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        assert!(cpu_time("self").is_some());
    }
}
