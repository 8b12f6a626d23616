//! The device a call runs on (`device=` of the bindings: None for the CPU, `(ordinal, tf32)` for a
//! CUDA GPU), and the probe Python asks before it chooses (`cuda_probe`).

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// The backend of one call. A CUDA session is opened per call (the device and its kernels are
/// shared by the process; the rows kept on the device are the call's).
pub enum Device {
    Cpu,
    #[cfg(feature = "cuda")]
    Cuda(fastkmeans_core::Cuda),
}

impl Device {
    pub fn open(device: Option<(usize, bool)>) -> PyResult<Self> {
        match device {
            None => Ok(Device::Cpu),
            #[cfg(feature = "cuda")]
            Some((ordinal, tf32)) => {
                use fastkmeans_core::Precision;
                let precision = if tf32 { Precision::Tf32 } else { Precision::Float32 };
                fastkmeans_core::Cuda::new(ordinal, precision, &[])
                    .map(Device::Cuda)
                    .map_err(|e| PyRuntimeError::new_err(format!("no usable GPU: {e}")))
            }
            #[cfg(not(feature = "cuda"))]
            Some(_) => Err(PyRuntimeError::new_err(NOT_COMPILED)),
        }
    }
}

#[cfg(not(feature = "cuda"))]
const NOT_COMPILED: &str = "fastkmeans was compiled without the cuda feature: install a CUDA-enabled wheel \
    (or build with `maturin build --features cuda`) to use device=\"cuda\"";

/// Runs `$body` with `$backend` bound to the device's backend (`&Cpu` or `&Cuda`).
#[macro_export]
macro_rules! on_device {
    ($device:expr, |$backend:ident| $body:expr) => {
        match $device {
            $crate::device::Device::Cpu => {
                let $backend = &fastkmeans_core::Cpu;
                $body
            }
            #[cfg(feature = "cuda")]
            $crate::device::Device::Cuda(cuda) => {
                let $backend = cuda;
                $body
            }
        }
    };
}

/// Whether this build has the cuda feature.
#[pyfunction]
pub fn cuda_compiled() -> bool {
    cfg!(feature = "cuda")
}

/// `(device_count, reason)`: how many CUDA devices there are, and when none can be used, why.
/// `lib_dirs` are searched for the CUDA libraries (the `nvidia/*/lib` directories of NVIDIA's pip
/// packages); only the first call in a process looks.
#[pyfunction]
#[pyo3(signature = (lib_dirs=Vec::new()))]
pub fn cuda_probe(py: Python<'_>, lib_dirs: Vec<String>) -> (usize, String) {
    #[cfg(feature = "cuda")]
    {
        let dirs: Vec<std::path::PathBuf> = lib_dirs.into_iter().map(Into::into).collect();
        match py.detach(|| fastkmeans_core::Cuda::device_count(&dirs)) {
            Ok(0) => (0, "the NVIDIA driver sees no CUDA device".into()),
            Ok(n) => (n, String::new()),
            Err(why) => (0, why),
        }
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = (py, lib_dirs);
        (0, NOT_COMPILED.into())
    }
}

/// The name of CUDA device `ordinal` (opening it, and compiling the kernels if needed).
#[pyfunction]
#[pyo3(signature = (ordinal=0, tf32=false))]
pub fn cuda_describe(py: Python<'_>, ordinal: usize, tf32: bool) -> PyResult<String> {
    let device = py.detach(|| Device::open(Some((ordinal, tf32))))?;
    match device {
        Device::Cpu => unreachable!("a device was asked for"),
        #[cfg(feature = "cuda")]
        Device::Cuda(cuda) => Ok(cuda.describe()),
    }
}
