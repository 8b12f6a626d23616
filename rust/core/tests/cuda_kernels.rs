//! The CUDA kernels compile: NVRTC (no GPU or driver needed) builds `kernels.cu` with the
//! backend's own options into a CUBIN for sm_80 and sm_90 (what a GPU session loads) and into PTX
//! (the fallback), every kernel the backend loads is in both, no kernel spills registers, and the
//! disk cache answers the second time.
//!
//! Runs with `--features cuda` (`make cuda-check`). Where NVRTC cannot be loaded it says so and
//! passes only when `FASTKMEANS_REQUIRE_NVRTC` is unset; `make cuda-check` sets it, after
//! installing nvidia-cuda-nvrtc-cu12 and pointing `FASTKMEANS_CUDA_LIB_DIR` at it.
#![cfg(feature = "cuda")]

use fastkmeans_core::backend::cuda::loader;
use fastkmeans_core::backend::cuda::module::{self, Kind, Target};

fn nvrtc() -> bool {
    match loader::load_nvrtc(&[]) {
        Ok(found) => {
            eprintln!("NVRTC: {found}, version {:?}", module::nvrtc_version());
            true
        }
        Err(why) => {
            assert!(std::env::var_os("FASTKMEANS_REQUIRE_NVRTC").is_none(), "NVRTC is required here: {why}");
            eprintln!("SKIPPED: NVRTC not loadable ({why})");
            false
        }
    }
}

/// Whether `image` (a CUBIN's ELF or PTX text) names `kernel` as an entry point.
fn defines(image: &[u8], kind: Kind, kernel: &str) -> bool {
    match kind {
        Kind::Ptx => String::from_utf8_lossy(image).contains(&format!(".entry {kernel}(")),
        // The ELF's string table holds each kernel's name NUL-terminated, and its section
        // `.text.<name>`.
        Kind::Cubin => {
            let section = format!(".text.{kernel}\0");
            image.windows(section.len()).any(|w| w == section.as_bytes())
        }
    }
}

#[test]
fn kernels_compile_to_cubin_and_ptx_for_hopper_and_ampere() {
    if !nvrtc() {
        return;
    }
    let supported = module::supported_archs().unwrap();
    eprintln!("NVRTC's architectures: {supported:?}");
    for arch in [80, 90] {
        assert_eq!(module::choose(arch, &supported), Some(Target { kind: Kind::Cubin, arch }));
        for kind in [Kind::Cubin, Kind::Ptx] {
            // Compiled without the disk cache: the point is NVRTC's verdict.
            let target = Target { kind, arch };
            let image = module::compile_uncached(&target).unwrap_or_else(|e| panic!("{e}"));
            assert!(module::looks_like(kind, &image), "{}: not a {kind:?}", target.arch_name());
            for kernel in module::KERNELS {
                assert!(defines(&image, kind, kernel), "{}: no kernel {kernel}", target.arch_name());
            }
            if kind == Kind::Ptx {
                // --fmad=false: no contracted multiply-adds anywhere (the exact distances depend on it).
                let text = String::from_utf8_lossy(&image);
                assert!(!text.contains("fma.rn.f64"), "{}: a double multiply-add was contracted", target.arch_name());
                assert!(text.contains(&format!(".target sm_{arch}")), "{}", target.arch_name());
            }
        }
    }
}

/// Each kernel's (registers, bytes of spill stores) in a ptxas report.
fn register_use(report: &str) -> Vec<(String, u32, u32)> {
    // The number `back` words before the word `unit` ("0 bytes spill", "127 registers").
    let number_before = |line: &str, unit: &str, back: usize| -> Option<u32> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words.iter().position(|w| w.trim_end_matches(',') == unit)?;
        words.get(at.checked_sub(back)?)?.parse().ok()
    };
    let mut out = Vec::new();
    let mut lines = report.lines();
    while let Some(line) = lines.next() {
        if let Some(name) = line.split("Function properties for ").nth(1) {
            let spills = lines.next().and_then(|l| number_before(l, "spill", 2)).unwrap_or(u32::MAX);
            let registers = lines.next().and_then(|l| number_before(l, "registers", 1)).unwrap_or(u32::MAX);
            out.push((name.trim().to_owned(), registers, spills));
        }
    }
    out
}

#[test]
fn no_kernel_spills_registers() {
    if !nvrtc() {
        return;
    }
    for arch in [80, 90] {
        let report = module::ptxas_report(arch).unwrap_or_else(|e| panic!("{e}"));
        let used = register_use(&report);
        assert_eq!(used.len(), module::KERNELS.len(), "sm_{arch}: {report}");
        for (kernel, registers, spills) in &used {
            // A spill puts a kernel's working set in local memory: slower, and easy to cause
            // (assign_fused's __launch_bounds__(256, 2) caps it at 128 registers).
            assert_eq!(*spills, 0, "sm_{arch}: {kernel} spills ({registers} registers): {report}");
        }
    }
}

#[test]
fn an_architecture_newer_than_nvrtc_gets_ptx_and_the_disk_cache_answers_the_second_time() {
    if !nvrtc() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("fastkmeans_kernel_cache_{}", std::process::id()));
    // The only test here that reads the cache directory.
    std::env::set_var("FASTKMEANS_CACHE_DIR", &dir);
    let newest = *module::supported_archs().unwrap().iter().max().unwrap();
    let first = module::compile(newest + 1).unwrap();
    assert_eq!(first.target, Target { kind: Kind::Ptx, arch: newest });
    assert!(!first.cached && first.describe().contains("compiled now"), "{}", first.describe());
    let cubin = module::compile(90).unwrap();
    assert_eq!(cubin.target.kind, Kind::Cubin);
    let again = module::compile(90).unwrap();
    assert!(again.cached, "{}", again.describe());
    assert_eq!(again.image, cubin.image);
    assert!(again.describe().starts_with("cubin sm_90 by NVRTC "), "{}", again.describe());
    // A damaged cache file is not taken for kernels: compiled again.
    std::fs::write(again.path.as_ref().unwrap(), b"garbage").unwrap();
    let repaired = module::compile(90).unwrap();
    assert!(!repaired.cached && repaired.image == cubin.image);
    std::fs::remove_dir_all(&dir).unwrap();
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
