//! The kernels (`kernels.cu`), compiled by NVRTC at first use and cached: in memory for the
//! process, and on disk (under `$FASTKMEANS_CACHE_DIR`, else `$XDG_CACHE_HOME/fastkmeans`, else
//! `~/.cache/fastkmeans`), keyed by a hash of the source and options, the target and NVRTC's
//! version.
//!
//! The target is a CUBIN for the device's own architecture (`--gpu-architecture=sm_XY`), which
//! the driver loads as it is: PTX would be compiled again by the driver's JIT, which refuses PTX
//! from an NVRTC newer than itself (`CUDA_ERROR_UNSUPPORTED_PTX_VERSION`). When this NVRTC does
//! not know the device's architecture (a GPU newer than the NVRTC), the target is PTX for the
//! newest virtual architecture it knows below it (`compute_XY`), which the driver JIT compiles
//! forward. [`Compiled::describe`] says which was used.

use std::ffi::{c_char, c_int, CStr, CString};
use std::path::{Path, PathBuf};

use cudarc::nvrtc::{result, sys, Ptx};

/// The CUDA C source of every kernel.
pub const SOURCE: &str = include_str!("kernels.cu");

/// The kernels `kernels.cu` defines, each loaded by name.
pub const KERNELS: [&str; 18] = [
    "assign_fused",
    "assign_merge",
    "assign_tile",
    "block_histogram",
    "scan_blocks",
    "scan_add",
    "cluster_starts",
    "scatter_sorted",
    "segment_sums",
    "cluster_totals",
    "distance_tile",
    "dispersion_rows",
    "seed_first",
    "seed_advance",
    "seed_block_sums",
    "seed_score",
    "seed_totals",
    "silhouette_tile",
];

/// What NVRTC produces: a CUBIN (machine code for one architecture) or PTX (virtual code the
/// driver compiles).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Cubin,
    Ptx,
}

/// A compile target: the kind and the architecture as `10 × major + minor` (90 for 9.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    pub kind: Kind,
    pub arch: u32,
}

impl Target {
    /// NVRTC's name of the architecture: `sm_90` (CUBIN) or `compute_90` (PTX).
    pub fn arch_name(&self) -> String {
        match self.kind {
            Kind::Cubin => format!("sm_{}", self.arch),
            Kind::Ptx => format!("compute_{}", self.arch),
        }
    }
}

/// The target for a device of architecture `device` when NVRTC knows the (real) architectures
/// `supported`: a CUBIN for `device` itself when it is listed, else PTX for the newest listed one
/// below it; `None` when NVRTC knows none at or below it.
pub fn choose(device: u32, supported: &[u32]) -> Option<Target> {
    if supported.contains(&device) {
        return Some(Target { kind: Kind::Cubin, arch: device });
    }
    supported.iter().copied().filter(|&a| a <= device).max().map(|arch| Target { kind: Kind::Ptx, arch })
}

/// NVRTC's options: no contracted multiply-adds (the exact distances must round as the CPU's).
pub fn options(target: &Target) -> Vec<String> {
    vec![format!("--gpu-architecture={}", target.arch_name()), "--fmad=false".into(), "--std=c++17".into()]
}

/// Compiled kernels, and where they came from.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The CUBIN's bytes, or the PTX text (without its terminating NUL).
    pub image: Vec<u8>,
    pub target: Target,
    /// NVRTC's version (major, minor).
    pub nvrtc: (i32, i32),
    /// The disk cache's file (read or written), when there is a cache directory.
    pub path: Option<PathBuf>,
    /// Whether the image was read from the disk cache.
    pub cached: bool,
}

impl Compiled {
    /// The module for cudarc's `load_module`.
    pub fn module(&self) -> Ptx {
        match self.target.kind {
            Kind::Cubin => Ptx::from_binary(self.image.clone()),
            Kind::Ptx => Ptx::from_src(String::from_utf8_lossy(&self.image).into_owned()),
        }
    }

    /// `cubin sm_90 by NVRTC 12.9 (from the disk cache: <path>)`, for log lines.
    pub fn describe(&self) -> String {
        let kind = match self.target.kind {
            Kind::Cubin => "cubin",
            Kind::Ptx => "ptx",
        };
        let (major, minor) = self.nvrtc;
        let source = match (&self.path, self.cached) {
            (Some(path), true) => format!("from the disk cache: {}", path.display()),
            (Some(path), false) => format!("compiled now, cached as {}", path.display()),
            (None, _) => "compiled now, no cache directory".into(),
        };
        format!("{kind} {} by NVRTC {major}.{minor} ({source})", self.target.arch_name())
    }
}

/// NVRTC's version (major, minor).
pub fn nvrtc_version() -> Result<(i32, i32), String> {
    let (mut major, mut minor): (c_int, c_int) = (0, 0);
    // SAFETY: two valid out-pointers; NVRTC is loaded (cudarc loads it on first use).
    unsafe { sys::nvrtcVersion(&mut major, &mut minor) }.result().map_err(|e| format!("nvrtcVersion failed: {e}"))?;
    Ok((major, minor))
}

/// The real architectures this NVRTC compiles CUBINs for (`10 × major + minor`).
pub fn supported_archs() -> Result<Vec<u32>, String> {
    let mut count: c_int = 0;
    // SAFETY: a valid out-pointer.
    unsafe { sys::nvrtcGetNumSupportedArchs(&mut count) }
        .result()
        .map_err(|e| format!("nvrtcGetNumSupportedArchs failed: {e}"))?;
    let mut archs = vec![0 as c_int; usize::try_from(count).unwrap_or(0)];
    if !archs.is_empty() {
        // SAFETY: the buffer holds the `count` values NVRTC writes.
        unsafe { sys::nvrtcGetSupportedArchs(archs.as_mut_ptr()) }
            .result()
            .map_err(|e| format!("nvrtcGetSupportedArchs failed: {e}"))?;
    }
    Ok(archs.into_iter().filter_map(|a| u32::try_from(a).ok()).collect())
}

/// The kernels for a device of architecture `device` (`10 × major + minor`): the target
/// [`choose`] picks (PTX for the same architecture when `FASTKMEANS_CUDA_KERNELS=ptx`), from the
/// disk cache when it holds it, else compiled now (and cached).
pub fn compile(device: u32) -> Result<Compiled, String> {
    let supported = supported_archs()?;
    let mut target = choose(device, &supported).ok_or_else(|| {
        format!("NVRTC knows no architecture at or below the device's sm_{device} (it knows {supported:?})")
    })?;
    if std::env::var("FASTKMEANS_CUDA_KERNELS").is_ok_and(|v| v.trim() == "ptx") {
        // The fallback path on purpose (tests, or a driver that refuses the CUBIN).
        target.kind = Kind::Ptx;
    }
    compile_target(target, true)
}

/// The kernels for `target`: from the disk cache when `use_cache` and it holds them, else compiled
/// now (and written to the cache).
pub fn compile_target(target: Target, use_cache: bool) -> Result<Compiled, String> {
    let nvrtc = nvrtc_version()?;
    let path = cache_dir().map(|dir| cache_file(&dir, SOURCE, &target, nvrtc));
    if use_cache {
        if let Some(image) = path.as_ref().and_then(|p| std::fs::read(p).ok()).filter(|i| looks_like(target.kind, i)) {
            return Ok(Compiled { image, target, nvrtc, path, cached: true });
        }
    }
    let image = compile_uncached(&target)?;
    if let Some(p) = path.as_ref() {
        // A cache that cannot be written is only slower next time.
        let _ = write_atomically(p, &image);
    }
    Ok(Compiled { image, target, nvrtc, path, cached: false })
}

/// [`SOURCE`] compiled now by NVRTC for `target`: the CUBIN's bytes or the PTX text. The error
/// carries NVRTC's log.
pub fn compile_uncached(target: &Target) -> Result<Vec<u8>, String> {
    compile_with(target, &[]).map(|(image, _)| image)
}

/// What ptxas says of each kernel compiled into a CUBIN for `sm_{arch}` with the backend's
/// options (`--ptxas-options=-v`): registers, spills, shared memory.
pub fn ptxas_report(arch: u32) -> Result<String, String> {
    compile_with(&Target { kind: Kind::Cubin, arch }, &["--ptxas-options=-v".into()]).map(|(_, log)| log)
}

/// [`SOURCE`] compiled by NVRTC for `target` with the backend's options and `extra`: the image
/// and NVRTC's log.
fn compile_with(target: &Target, extra: &[String]) -> Result<(Vec<u8>, String), String> {
    let source = CString::new(SOURCE).expect("the source has no NUL");
    let name = CString::new("fastkmeans_kernels.cu").expect("no NUL");
    let prog = result::create_program(&source, Some(&name)).map_err(|e| format!("nvrtcCreateProgram failed: {e}"))?;
    let mut opts = options(target);
    opts.extend_from_slice(extra);
    // SAFETY: `prog` is live until destroyed below; every call gets buffers of the sizes NVRTC
    // reports.
    let out = unsafe {
        let compiled = result::compile_program(prog, &opts);
        let log = result::get_program_log(prog).map(|l| c_text(&l)).unwrap_or_default();
        match compiled {
            Err(e) => Err(format!("NVRTC could not compile the kernels for {} ({e}): {log}", target.arch_name())),
            Ok(()) => match target.kind {
                Kind::Ptx => result::get_ptx(prog)
                    .map(|p| c_text(&p).into_bytes())
                    .map_err(|e| format!("nvrtcGetPTX failed: {e}")),
                Kind::Cubin => get_cubin(prog),
            }
            .map(|image| (image, log)),
        }
    };
    // SAFETY: created above and not destroyed before.
    let _ = unsafe { result::destroy_program(prog) };
    out
}

/// # Safety
/// `prog` is a live program compiled for a real architecture.
unsafe fn get_cubin(prog: sys::nvrtcProgram) -> Result<Vec<u8>, String> {
    let mut size = 0usize;
    // SAFETY: `prog` is live (the caller's promise); a valid out-pointer.
    unsafe { sys::nvrtcGetCUBINSize(prog, &mut size) }
        .result()
        .map_err(|e| format!("nvrtcGetCUBINSize failed: {e}"))?;
    if size == 0 {
        return Err("NVRTC produced an empty CUBIN".into());
    }
    let mut bytes = vec![0u8; size];
    // SAFETY: the buffer holds the `size` bytes NVRTC writes.
    unsafe { sys::nvrtcGetCUBIN(prog, bytes.as_mut_ptr().cast::<c_char>()) }
        .result()
        .map_err(|e| format!("nvrtcGetCUBIN failed: {e}"))?;
    Ok(bytes)
}

/// A NUL-terminated buffer as text (up to the NUL).
fn c_text(buf: &[c_char]) -> String {
    let bytes: Vec<u8> = buf.iter().map(|&c| c as u8).take_while(|&b| b != 0).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The cache directory: `$FASTKMEANS_CACHE_DIR`, else `$XDG_CACHE_HOME/fastkmeans`, else
/// `~/.cache/fastkmeans`.
pub fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("FASTKMEANS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("fastkmeans")))
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache").join("fastkmeans")))
}

/// The cache file of `source` compiled for `target` by NVRTC `nvrtc` in `dir`:
/// `kernels-sm_90-nvrtc12.9-<hash>.cubin` (or `compute_90 ... .ptx`), the hash (FNV-1a, stable
/// across Rust releases) over the source, the options, the target and the version.
pub fn cache_file(dir: &Path, source: &str, target: &Target, nvrtc: (i32, i32)) -> PathBuf {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes.iter().chain([0xffu8].iter()) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    feed(source.as_bytes());
    for option in options(target) {
        feed(option.as_bytes());
    }
    feed(format!("{:?} {} {}.{}", target.kind, target.arch, nvrtc.0, nvrtc.1).as_bytes());
    let ext = match target.kind {
        Kind::Cubin => "cubin",
        Kind::Ptx => "ptx",
    };
    dir.join(format!("kernels-{}-nvrtc{}.{}-{hash:016x}.{ext}", target.arch_name(), nvrtc.0, nvrtc.1))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("the cache file is in a directory");
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.{}", std::process::id(), path.file_name().unwrap_or_default().to_string_lossy()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Whether `image` looks like what `kind` names: an ELF file for a CUBIN, PTX text (`.version`)
/// for PTX. A cheap check of cache files and of NVRTC's output in the compile test.
pub fn looks_like(kind: Kind, image: &[u8]) -> bool {
    match kind {
        Kind::Cubin => image.starts_with(b"\x7fELF"),
        Kind::Ptx => CStr::from_bytes_until_nul(image)
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_else(|_| String::from_utf8_lossy(image).into_owned())
            .contains(".version"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUBIN_90: Target = Target { kind: Kind::Cubin, arch: 90 };

    #[test]
    fn a_known_architecture_gets_a_cubin_an_unknown_one_ptx_below_it() {
        let known = [75, 80, 86, 89, 90, 100, 120];
        assert_eq!(choose(90, &known), Some(CUBIN_90));
        assert_eq!(choose(87, &known), Some(Target { kind: Kind::Ptx, arch: 86 }));
        assert_eq!(choose(130, &known), Some(Target { kind: Kind::Ptx, arch: 120 }));
        assert_eq!(choose(70, &known), None);
        assert_eq!(CUBIN_90.arch_name(), "sm_90");
        assert_eq!(Target { kind: Kind::Ptx, arch: 90 }.arch_name(), "compute_90");
        assert!(options(&CUBIN_90).contains(&"--gpu-architecture=sm_90".to_owned()));
        assert!(options(&CUBIN_90).contains(&"--fmad=false".to_owned()));
    }

    #[test]
    fn the_cache_file_changes_with_source_target_and_nvrtc_version() {
        let dir = Path::new("/cache");
        let base = cache_file(dir, "src", &CUBIN_90, (12, 9));
        assert_eq!(base.parent(), Some(dir));
        let name = base.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("kernels-sm_90-nvrtc12.9-") && name.ends_with(".cubin"), "{name}");
        assert_eq!(base, cache_file(dir, "src", &CUBIN_90, (12, 9)), "the key is stable");
        let others = [
            cache_file(dir, "src2", &CUBIN_90, (12, 9)),
            cache_file(dir, "src", &Target { kind: Kind::Cubin, arch: 80 }, (12, 9)),
            cache_file(dir, "src", &Target { kind: Kind::Ptx, arch: 90 }, (12, 9)),
            cache_file(dir, "src", &CUBIN_90, (12, 8)),
            cache_file(dir, "src", &CUBIN_90, (13, 0)),
        ];
        for other in &others {
            assert_ne!(&base, other);
        }
        assert!(others[2].to_string_lossy().ends_with(".ptx"));
    }

    #[test]
    fn images_are_recognised_by_their_kind() {
        assert!(looks_like(Kind::Cubin, b"\x7fELF\x02\x01"));
        assert!(!looks_like(Kind::Cubin, b".version 8.5"));
        assert!(looks_like(Kind::Ptx, b"//\n.version 8.5\n.target sm_90\0"));
        assert!(!looks_like(Kind::Ptx, b"\x7fELF"));
    }

    #[test]
    fn a_cache_write_is_atomic_and_readable() {
        let dir = std::env::temp_dir().join(format!("fastkmeans_cache_test_{}", std::process::id()));
        let path = cache_file(&dir, SOURCE, &CUBIN_90, (12, 9));
        write_atomically(&path, b"\x7fELFdata").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"\x7fELFdata");
        let leftovers = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name() != path.file_name().unwrap())
            .count();
        assert_eq!(leftovers, 0, "no temporary file left");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
