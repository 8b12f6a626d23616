//! Calls into cudarc, guarded: cudarc panics where a library is missing; and which of its
//! errors leave the work to the CPU.

use std::panic::{catch_unwind, AssertUnwindSafe};

use cudarc::driver::sys::cudaError_enum;
use cudarc::driver::DriverError;

/// Whether the device was out of memory (another process took it after a check): the callers
/// that can, compute on the CPU instead.
pub(super) fn out_of_memory(e: &DriverError) -> bool {
    e.0 == cudaError_enum::CUDA_ERROR_OUT_OF_MEMORY
}

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
