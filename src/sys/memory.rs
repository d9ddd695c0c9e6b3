//! Memory that may not be there. A buffer the process cannot have is a
//! limit of the machine, like EMSGSIZE: the case says so and the run goes
//! on, instead of the allocator aborting the whole run.

use std::io;

use nix::sys::resource::{getrlimit, Resource};

/// `len` zeroed bytes, or an `OutOfMemory` error naming the size and the
/// limits that can have refused it.
pub fn zeroed(len: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    buf.try_reserve_exact(len).map_err(|_| refused(len))?;
    buf.resize(len, 0);
    Ok(buf)
}

/// Grows `buf` to `len` bytes (zeroes at the end), fallibly.
pub fn grow(buf: &mut Vec<u8>, len: usize) -> io::Result<()> {
    if len > buf.len() {
        buf.try_reserve_exact(len - buf.len())
            .map_err(|_| refused(len))?;
    }
    buf.resize(len, 0);
    Ok(())
}

/// Whether `bytes` more could be had now: reserved and given back at
/// once, so a case learns before it starts that its buffers will not fit.
pub fn headroom(bytes: usize) -> io::Result<()> {
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(bytes).map_err(|_| refused(bytes))
}

/// The error for `len` bytes that could not be had.
pub fn refused(len: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!("ENOMEM: {len} bytes could not be allocated ({})", limits()),
    )
}

/// The limits on this process's memory, as a reader would set them.
pub fn limits() -> String {
    let show = |r: Resource, name: &str, shell: &str| match getrlimit(r) {
        Ok((soft, _)) if soft != libc::RLIM_INFINITY => format!("{name} {soft} bytes ({shell})"),
        Ok(_) => format!("{name} unlimited"),
        Err(e) => format!("{name} unreadable: {e}"),
    };
    format!(
        "{}, {}",
        show(Resource::RLIMIT_AS, "RLIMIT_AS", "ulimit -v"),
        show(Resource::RLIMIT_DATA, "RLIMIT_DATA", "ulimit -d")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_impossible_size_is_an_error_naming_it_and_the_limits() {
        let e = zeroed(usize::MAX / 2).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::OutOfMemory);
        let text = e.to_string();
        assert!(text.contains(&(usize::MAX / 2).to_string()), "{text}");
        assert!(
            text.contains("RLIMIT_AS") && text.contains("RLIMIT_DATA"),
            "{text}"
        );
        assert!(headroom(usize::MAX / 2).is_err());
    }

    #[test]
    fn a_small_size_is_zeroed_and_grows() {
        let mut b = zeroed(16).unwrap();
        assert_eq!(b, vec![0; 16]);
        grow(&mut b, 32).unwrap();
        assert_eq!(b.len(), 32);
        assert!(grow(&mut b, usize::MAX / 2).is_err());
    }
}
