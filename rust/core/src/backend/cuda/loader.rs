//! Finding the CUDA libraries before cudarc touches them.
//!
//! cudarc (dynamic loading) opens the driver, NVRTC and cuBLAS by name the first time it needs
//! them and panics when one is missing. So the backend looks first: it opens each library itself
//! (by name through the loader's path, then by full path in the directories below), and keeps it
//! open. Once a library is loaded, the dynamic loader answers cudarc's later `dlopen` of the same
//! soname (`libcublas.so.13`, `libnvrtc.so.12`, ...) with it, so cudarc finds the libraries that
//! NVIDIA's pip packages install (`site-packages/nvidia/cu13/lib`, `nvidia/cublas/lib`, ...),
//! where PyTorch and CuPy find them too. A failure is a sentence saying what is missing.
//!
//! Directories searched, in order, after the loader's own path: `FASTKMEANS_CUDA_LIB_DIR`
//! (`:`-separated), the directories the caller passes (Python passes its `nvidia/*/lib`
//! directories), `$CUDA_PATH/lib64`, `$CUDA_HOME/lib64` and `/usr/local/cuda/lib64`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use libloading::Library;

/// What the probe found: the driver's CUDA version and the files it loaded.
#[derive(Clone, Debug)]
pub struct Found {
    /// The driver's CUDA version, as `cuDriverGetVersion` gives it (12040 = 12.4).
    pub driver_version: i32,
    /// The NVRTC and cuBLAS libraries loaded (a name or a full path).
    pub nvrtc: String,
    pub cublas: String,
}

/// The libraries, once found, stay loaded for the life of the process (cudarc keeps its own
/// handles to the same objects).
static LOADED: Mutex<Vec<Library>> = Mutex::new(Vec::new());
static PROBE: OnceLock<Result<Found, String>> = OnceLock::new();

/// Loads the driver, NVRTC and cuBLAS, once per process; later calls return the first answer.
/// `extra_dirs` are searched after `FASTKMEANS_CUDA_LIB_DIR`.
pub fn probe(extra_dirs: &[PathBuf]) -> Result<Found, String> {
    PROBE.get_or_init(|| load_all(extra_dirs)).clone()
}

fn load_all(extra_dirs: &[PathBuf]) -> Result<Found, String> {
    let dirs = search_dirs(extra_dirs);
    let driver = open_first(&["libcuda.so.1", "libcuda.so"], &[])
        .map_err(|e| format!("no NVIDIA driver: libcuda.so.1 cannot be loaded ({e})"))?;
    let driver_version = driver_version(&driver.0)?;
    keep(driver.0);
    // A library newer than the driver would compile PTX the driver cannot load: prefer the
    // major version the driver supports.
    let majors: &[&str] = if driver_version >= 13000 { &["13", "12"] } else { &["12"] };
    let names = |base: &str| majors.iter().map(|m| format!("{base}.so.{m}")).collect::<Vec<_>>();
    let nvrtc = open_named(&names("libnvrtc"), &dirs)
        .map_err(|e| format!("NVRTC (the CUDA runtime compiler) not found: {e}; pip install nvidia-cuda-nvrtc-cu12"))?;
    // cuBLAS needs cuBLASLt beside it: load that first, from the same place.
    let lt = open_named(&names("libcublasLt"), &dirs)
        .map_err(|e| format!("cuBLASLt not found: {e}; pip install nvidia-cublas-cu12"))?;
    let cublas = open_named(&names("libcublas"), &dirs)
        .map_err(|e| format!("cuBLAS not found: {e}; pip install nvidia-cublas-cu12"))?;
    let found = Found { driver_version, nvrtc: nvrtc.1.clone(), cublas: cublas.1.clone() };
    for lib in [nvrtc.0, lt.0, cublas.0] {
        keep(lib);
    }
    Ok(found)
}

/// Loads NVRTC alone (no driver needed), for compiling the kernels on a machine without a GPU
/// (the compile check of `tests/cuda_kernels.rs`); returns what was loaded.
pub fn load_nvrtc(extra_dirs: &[PathBuf]) -> Result<String, String> {
    let names = ["libnvrtc.so.13".to_owned(), "libnvrtc.so.12".to_owned()];
    let (lib, what) = open_named(&names, &search_dirs(extra_dirs))?;
    keep(lib);
    Ok(what)
}

fn keep(lib: Library) {
    LOADED.lock().unwrap_or_else(|e| e.into_inner()).push(lib);
}

fn driver_version(driver: &Library) -> Result<i32, String> {
    type GetVersion = unsafe extern "C" fn(*mut i32) -> i32;
    let mut version = 0;
    // SAFETY: cuDriverGetVersion(int*) has this signature in every CUDA release and may be called
    // before cuInit.
    let status = unsafe {
        let get: libloading::Symbol<'_, GetVersion> =
            driver.get(b"cuDriverGetVersion\0").map_err(|e| format!("libcuda has no cuDriverGetVersion: {e}"))?;
        get(&mut version)
    };
    if status != 0 {
        return Err(format!("the NVIDIA driver does not answer (cuDriverGetVersion returned error {status})"));
    }
    Ok(version)
}

/// The directories to look in after the loader's own path.
fn search_dirs(extra_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(list) = std::env::var_os("FASTKMEANS_CUDA_LIB_DIR") {
        dirs.extend(std::env::split_paths(&list));
    }
    dirs.extend(extra_dirs.iter().cloned());
    for var in ["CUDA_PATH", "CUDA_HOME"] {
        if let Some(root) = std::env::var_os(var) {
            dirs.push(Path::new(&root).join("lib64"));
        }
    }
    dirs.push(PathBuf::from("/usr/local/cuda/lib64"));
    dirs
}

/// The first of `names` that loads through the loader's path, else from the first directory that
/// holds one; returns the library and what was loaded.
fn open_named(names: &[String], dirs: &[PathBuf]) -> Result<(Library, String), String> {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    open_first(&names, dirs)
}

fn open_first(names: &[&str], dirs: &[PathBuf]) -> Result<(Library, String), String> {
    let mut last = String::from("nothing to try");
    for name in names {
        // SAFETY: loading a CUDA library runs its initialisers, which have no preconditions.
        match unsafe { Library::new(*name) } {
            Ok(lib) => return Ok((lib, (*name).to_owned())),
            Err(e) => last = e.to_string(),
        }
    }
    for dir in dirs {
        for name in names {
            let path = dir.join(name);
            if path.is_file() {
                // SAFETY: as above.
                match unsafe { Library::new(&path) } {
                    Ok(lib) => return Ok((lib, path.display().to_string())),
                    Err(e) => last = e.to_string(),
                }
            }
        }
    }
    Err(format!("tried {} in the loader's path and {} directories; last error: {last}", names.join(", "), dirs.len()))
}
