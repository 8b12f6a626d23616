//! The CUDA kernels compile: NVRTC (no GPU or driver needed) builds `kernels.cu` for sm_80 and
//! sm_90 with the backend's own options, and the PTX defines every kernel the backend loads.
//!
//! Runs with `--features cuda` (`make cuda-check`). Where NVRTC cannot be loaded it says so and
//! passes only when `FASTKMEANS_REQUIRE_NVRTC` is unset; `make cuda-check` sets it, after
//! installing nvidia-cuda-nvrtc-cu12 and pointing `FASTKMEANS_CUDA_LIB_DIR` at it.
#![cfg(feature = "cuda")]

use fastkmeans_core::backend::cuda::{loader, module};

#[test]
fn kernels_compile_for_hopper_and_ampere() {
    match loader::load_nvrtc(&[]) {
        Ok(found) => eprintln!("NVRTC: {found}"),
        Err(why) => {
            assert!(std::env::var_os("FASTKMEANS_REQUIRE_NVRTC").is_none(), "NVRTC is required here: {why}");
            eprintln!("SKIPPED: NVRTC not loadable ({why})");
            return;
        }
    }
    for arch in ["sm_80", "sm_90"] {
        // Compile without the disk cache: the point is NVRTC's verdict.
        let ptx = module::compile_uncached(arch).unwrap_or_else(|e| panic!("{e}"));
        let text = ptx.to_src();
        for kernel in module::KERNELS {
            assert!(text.contains(&format!(".entry {kernel}(")), "{arch}: no entry point {kernel}");
        }
        // --fmad=false: no contracted multiply-adds anywhere (the exact distances depend on it).
        assert!(!text.contains("fma.rn.f64"), "{arch}: a double multiply-add was contracted");
    }
}

/// Without a driver (this machine, CI), opening a device is an error that says so, not a panic.
#[test]
fn no_driver_is_an_error_not_a_panic() {
    use fastkmeans_core::{Cuda, Precision};
    match Cuda::device_count(&[]) {
        Ok(n) => eprintln!("a driver is present ({n} devices): nothing to check"),
        Err(why) => {
            assert!(why.contains("no NVIDIA driver"), "{why}");
            let err = Cuda::new(0, Precision::Float32, &[]).unwrap_err().to_string();
            assert!(err.contains("no NVIDIA driver: libcuda.so.1 cannot be loaded"), "{err}");
        }
    }
}
