//! The kernels (`kernels.cu`), compiled by NVRTC at first use for the device's compute
//! capability and cached: in memory for the process, and as PTX on disk (under
//! `$FASTKMEANS_CACHE_DIR`, else `$XDG_CACHE_HOME/fastkmeans`, else `~/.cache/fastkmeans`), keyed by
//! a hash of the source, the options and the architecture.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use cudarc::nvrtc::{CompileOptions, Ptx};

/// The CUDA C source of every kernel.
pub const SOURCE: &str = include_str!("kernels.cu");

/// The kernels `kernels.cu` defines, each loaded by name.
pub const KERNELS: [&str; 8] = [
    "assign_tile",
    "block_histogram",
    "scan_blocks",
    "scan_add",
    "cluster_starts",
    "scatter_sorted",
    "segment_sums",
    "cluster_totals",
];

/// NVRTC's options: no contracted multiply-adds (the exact distances must round as the CPU's).
pub fn options(arch: &str) -> Vec<String> {
    vec![format!("--gpu-architecture={arch}"), "--fmad=false".into(), "--std=c++17".into()]
}

/// The PTX of [`SOURCE`] for `arch` (`sm_90`), from the disk cache when it holds it.
pub fn compile(arch: &str) -> Result<Ptx, String> {
    let opts = options(arch);
    let cached = cache_file(arch, &opts);
    if let Some(text) = cached.as_ref().and_then(|path| std::fs::read_to_string(path).ok()) {
        return Ok(Ptx::from_src(text));
    }
    let ptx = compile_uncached(arch)?;
    if let Some(path) = cached {
        // A cache that cannot be written is only slower next time.
        let _ = write_atomically(&path, &ptx.to_src());
    }
    Ok(ptx)
}

/// The PTX of [`SOURCE`] for `arch`, compiled now by NVRTC.
pub fn compile_uncached(arch: &str) -> Result<Ptx, String> {
    let opts =
        CompileOptions { options: options(arch), name: Some("fastkmeans_kernels.cu".into()), ..Default::default() };
    cudarc::nvrtc::compile_ptx_with_opts(SOURCE, opts)
        .map_err(|e| format!("NVRTC could not compile the kernels for {arch}: {e}"))
}

fn cache_file(arch: &str, opts: &[String]) -> Option<PathBuf> {
    let dir = std::env::var_os("FASTKMEANS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("fastkmeans")))
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache").join("fastkmeans")))?;
    let mut hasher = DefaultHasher::new();
    (SOURCE, arch, opts).hash(&mut hasher);
    Some(dir.join(format!("kernels-{arch}-{:016x}.ptx", hasher.finish())))
}

fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().expect("the cache file is in a directory");
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.{}", std::process::id(), path.file_name().unwrap_or_default().to_string_lossy()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
