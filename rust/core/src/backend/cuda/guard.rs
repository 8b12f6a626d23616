//! Calls into cudarc, guarded: cudarc panics where a library is missing.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, turning a panic inside cudarc (a library it could not load, say) into an error.
pub(super) fn guarded<T>(f: impl FnOnce() -> std::result::Result<T, String>) -> std::result::Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(format!("the CUDA libraries failed: {message}"))
        }
    }
}
