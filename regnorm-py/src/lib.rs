//! `regnorm._native`: the Rust side of the Python package.
//!
//! Every function takes its tensors as lists of C-contiguous NumPy arrays of
//! one element type, named by `kind` (`"f32"`, `"f64"`, `"f16"`, or `"bf16"`
//! for `uint16` arrays holding bfloat16 bits); the pure-Python layer
//! (`python/regnorm/`) turns NumPy arrays and CPU torch tensors into these
//! views without a copy. Before any slice is made, every array is checked
//! (type, contiguity, writability) and no array written may overlap any
//! other array of the call; then the kernel runs with the GIL released.
//! Nothing is written unless every check passes.

use numpy::{
    PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyReadwriteArrayDyn, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use regnorm::shard::{Layout, Partial, Piece};
use regnorm::{ClipGradNorm, ElasticNet, L1, L2, Regularizer, WeightDecay};

/// A NumPy element type and the regnorm element it holds.
trait Np: numpy::Element + Copy + Send + Sync + 'static {
    type R: regnorm::Element;
    const NAME: &'static str;
    /// The torch dtype of the same elements, as `str(dtype)`.
    const TORCH: &'static str;
    /// Its DLPack `(code, bits)` (one lane).
    const DL: (u8, u8);
    fn cast(s: &[Self]) -> &[Self::R];
    fn cast_mut(s: &mut [Self]) -> &mut [Self::R];
}

macro_rules! same {
    ($t:ty, $name:literal, $torch:literal, $bits:literal) => {
        impl Np for $t {
            type R = $t;
            const NAME: &'static str = $name;
            const TORCH: &'static str = $torch;
            const DL: (u8, u8) = (2, $bits); // kDLFloat
            fn cast(s: &[$t]) -> &[$t] {
                s
            }
            fn cast_mut(s: &mut [$t]) -> &mut [$t] {
                s
            }
        }
    };
}
same!(f32, "float32", "torch.float32", 32);
same!(f64, "float64", "torch.float64", 64);
same!(half::f16, "float16", "torch.float16", 16);

/// bfloat16 has no NumPy dtype: its bits come as `uint16`.
impl Np for u16 {
    type R = half::bf16;
    const NAME: &'static str = "uint16 (bfloat16 bits)";
    const TORCH: &'static str = "torch.bfloat16";
    const DL: (u8, u8) = (4, 16); // kDLBfloat
    fn cast(s: &[u16]) -> &[half::bf16] {
        half::slice::HalfBitsSliceExt::reinterpret_cast(s)
    }
    fn cast_mut(s: &mut [u16]) -> &mut [half::bf16] {
        half::slice::HalfBitsSliceExt::reinterpret_cast_mut(s)
    }
}

/// Runs `$body` with `$t` bound to the NumPy element type of `$kind`.
macro_rules! by_kind {
    ($kind:expr, $t:ident => $body:expr) => {
        match $kind {
            "f32" => {
                type $t = f32;
                $body
            }
            "f64" => {
                type $t = f64;
                $body
            }
            "f16" => {
                type $t = half::f16;
                $body
            }
            "bf16" => {
                type $t = u16;
                $body
            }
            other => Err(PyTypeError::new_err(format!(
                "unsupported element type {other:?}: expected f32, f64, f16 or bf16"
            ))),
        }
    };
}

/// One array of an argument, with the memory it covers: `len` elements
/// from `ptr` (aligned, and dangling if `len` is 0).
struct Part<'py, T: Np> {
    source: Source<'py, T>,
    ptr: usize,
    len: usize,
}

/// What owns an array's memory, kept for the call.
enum Source<'py, T: Np> {
    /// A NumPy array, borrowed through the numpy crate.
    NumPy(Bound<'py, PyArrayDyn<T>>),
    /// A CPU torch tensor, through the DLPack tensor it exported.
    DlPack(#[allow(dead_code)] Dl),
}

/// One argument's arrays, typed and checked, before any borrow.
struct Arg<'a, 'py, T: Np> {
    name: &'a str,
    parts: Vec<Part<'py, T>>,
}

/// The numpy crate's borrows of an argument's NumPy arrays, held while its
/// slices live.
enum Borrows<'py, T: Np> {
    Read(#[allow(dead_code)] Vec<Option<PyReadonlyArrayDyn<'py, T>>>),
    Write(#[allow(dead_code)] Vec<Option<PyReadwriteArrayDyn<'py, T>>>),
}

/// What an argument holds while its slices live: the numpy crate's borrows
/// and this module's claim on the memory (torch tensors have no borrow
/// flags, so the claim is what keeps two calls running at once, with the
/// GIL released, from writing the same memory or reading what the other
/// writes).
struct Held<'py, T: Np> {
    borrows: Borrows<'py, T>,
    _claim: Claim,
}

/// Byte ranges in use by the native calls now running: (start, end,
/// written, claim id).
static IN_USE: std::sync::Mutex<Vec<(usize, usize, bool, u64)>> = std::sync::Mutex::new(Vec::new());
static NEXT_CLAIM: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Ranges registered in [`IN_USE`] until dropped (also on a panic).
struct Claim(u64);

impl Claim {
    /// Registers `ranges`, or fails if one overlaps a range of another
    /// running call where either side writes.
    fn new(name: &str, ranges: &[(usize, usize, usize)], write: bool) -> PyResult<Claim> {
        let id = NEXT_CLAIM.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut in_use = IN_USE.lock().unwrap_or_else(|e| e.into_inner());
        for &(i, s, e) in ranges {
            if s < e
                && in_use
                    .iter()
                    .any(|&(s2, e2, w2, _)| s2 < e2 && s < e2 && s2 < e && (write || w2))
            {
                return Err(PyValueError::new_err(format!(
                    "{name}[{i}]: in use by another regnorm call running now, which writes it or reads what this call writes"
                )));
            }
        }
        in_use.extend(ranges.iter().map(|&(_, s, e)| (s, e, write, id)));
        Ok(Claim(id))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut in_use = IN_USE.lock().unwrap_or_else(|e| e.into_inner());
        in_use.retain(|r| r.3 != self.0);
    }
}

/// What reading a torch tensor needs from torch, looked up once per
/// argument. None of it is trusted for memory safety: `torch.Tensor`, its
/// methods and the module's functions are all replaceable by Python code
/// (and a `TorchFunctionMode` answers even `torch._C.TensorBase`'s
/// methods), so a tensor's memory is taken only from the DLPack capsule
/// `to_dlpack` returns, whatever made it ([`Dl::consume`]).
struct Torch<'py> {
    tensor: Bound<'py, PyAny>,
    parameter: Bound<'py, PyAny>,
    to_dlpack: Bound<'py, PyAny>,
    contiguous: Bound<'py, PyAny>,
}

impl<'py> Torch<'py> {
    /// torch as the caller imported it; `None` if it has not been (then
    /// no argument can be a tensor, and torch is not imported here).
    fn find(py: Python<'py>) -> PyResult<Option<Self>> {
        let modules = py
            .import(intern!(py, "sys"))?
            .getattr(intern!(py, "modules"))?;
        let Some(torch) = modules
            .cast::<pyo3::types::PyDict>()?
            .get_item(intern!(py, "torch"))?
        else {
            return Ok(None);
        };
        let tensor = torch.getattr(intern!(py, "Tensor"))?;
        Ok(Some(Torch {
            parameter: torch
                .getattr(intern!(py, "nn"))?
                .getattr(intern!(py, "Parameter"))?,
            to_dlpack: torch
                .getattr(intern!(py, "utils"))?
                .getattr(intern!(py, "dlpack"))?
                .getattr(intern!(py, "to_dlpack"))?,
            contiguous: tensor.getattr(intern!(py, "contiguous"))?,
            tensor,
        }))
    }
}

/// DLPack's `DLTensor` (`dlpack.h`; the same in ABI 0.x and 1.x), with
/// `DLDevice` and `DLDataType` written out field by field (the same
/// layout).
#[repr(C)]
struct DlTensor {
    data: *mut std::ffi::c_void,
    device_type: i32,
    device_id: i32,
    ndim: i32,
    code: u8,
    bits: u8,
    lanes: u16,
    shape: *const i64,
    strides: *const i64,
    byte_offset: u64,
}

/// DLPack's `DLManagedTensor` (ABI 0.x), what a capsule named "dltensor"
/// points to.
#[repr(C)]
struct DlManagedTensor {
    dl_tensor: DlTensor,
    manager_ctx: *mut std::ffi::c_void,
    deleter: Option<unsafe extern "C" fn(*mut DlManagedTensor)>,
}

/// A DLPack tensor this module has consumed: it owns the memory the tensor
/// describes until it is dropped, which calls the producer's deleter.
struct Dl(std::ptr::NonNull<DlManagedTensor>);

impl Dl {
    /// Takes the tensor out of `capsule` as the DLPack protocol's consumer:
    /// renames the capsule "used_dltensor", so that neither its destructor
    /// nor any other consumer frees the tensor; from then on the tensor is
    /// this value's to free.
    fn consume(capsule: &Bound<'_, PyAny>) -> Option<Dl> {
        const NAME: &std::ffi::CStr = c"dltensor";
        const USED: &std::ffi::CStr = c"used_dltensor";
        let obj = capsule.as_ptr();
        // SAFETY: `obj` is a live object (`capsule` holds a reference) and
        // the names are NUL-terminated statics. `PyCapsule_IsValid` accepts
        // any object: it answers 1 only for a capsule of that name with a
        // non-null pointer, and `PyCapsule_GetPointer` then returns that
        // pointer. The GIL is held from the check to the rename, so no
        // other thread can consume the capsule in between.
        unsafe {
            if pyo3::ffi::PyCapsule_IsValid(obj, NAME.as_ptr()) != 1 {
                return None;
            }
            let ptr = pyo3::ffi::PyCapsule_GetPointer(obj, NAME.as_ptr());
            let dl = Dl(std::ptr::NonNull::new(ptr.cast())?);
            if pyo3::ffi::PyCapsule_SetName(obj, USED.as_ptr()) != 0 {
                pyo3::ffi::PyErr_Clear();
                std::mem::forget(dl); // still the capsule's to free
                return None;
            }
            Some(dl)
        }
    }

    fn tensor(&self) -> &DlTensor {
        // SAFETY: a capsule named "dltensor" holds a `DLManagedTensor`
        // that stays valid until its deleter is called (the DLPack
        // protocol; only native code can make a capsule, Python code can
        // only pass one along), and this value, which consumed it, calls
        // the deleter only when dropped.
        unsafe { &self.0.as_ref().dl_tensor }
    }
}

impl Drop for Dl {
    fn drop(&mut self) {
        // SAFETY: this value consumed the tensor, so it alone frees it,
        // once; the producer's deleter takes the pointer it made (a null
        // deleter means nothing to free).
        unsafe {
            if let Some(deleter) = self.0.as_ref().deleter {
                deleter(self.0.as_ptr());
            }
        }
    }
}

/// A DLPack element type as torch names it (for messages).
fn dl_dtype(code: u8, bits: u8, lanes: u16) -> String {
    let kind = match code {
        0 => "int",
        1 => "uint",
        2 => "float",
        4 => "bfloat",
        5 => "complex",
        6 => "bool",
        _ => "opaque",
    };
    match (code, lanes) {
        (6, 1) => "torch.bool".to_string(),
        (_, 1) => format!("torch.{kind}{bits}"),
        _ => format!("torch.{kind}{bits}x{lanes}"),
    }
}

impl<'a, 'py, T: Np> Arg<'a, 'py, T> {
    fn new(name: &'a str, arrays: &[Bound<'py, PyAny>], write: bool) -> PyResult<Self> {
        let mut parts = Vec::with_capacity(arrays.len());
        // Looked up at the first array that is not a NumPy array.
        let mut torch: Option<Option<Torch<'py>>> = None;
        for (i, a) in arrays.iter().enumerate() {
            let part = if let Ok(arr) = a.cast::<PyArrayDyn<T>>() {
                Self::numpy(name, i, arr, write)?
            } else {
                if torch.is_none() {
                    torch = Some(Torch::find(a.py())?);
                }
                match torch.as_ref().and_then(Option::as_ref) {
                    Some(t) => Self::torch(name, i, a, t, write)?,
                    None => return Err(Self::not_an_array(name, i)),
                }
            };
            let mut part = part;
            if part.len == 0 {
                part.ptr = align_of::<T>(); // dangling: NumPy's and DLPack's may be anything
            }
            if part.ptr % align_of::<T>() != 0 {
                return Err(PyValueError::new_err(format!(
                    "{name}[{i}]: not aligned to its element type"
                )));
            }
            parts.push(part);
        }
        Ok(Arg { name, parts })
    }

    fn not_an_array(name: &str, i: usize) -> PyErr {
        PyTypeError::new_err(format!(
            "{name}[{i}]: expected a NumPy array of {} or a torch tensor",
            T::NAME
        ))
    }

    fn numpy(
        name: &str,
        i: usize,
        arr: &Bound<'py, PyArrayDyn<T>>,
        write: bool,
    ) -> PyResult<Part<'py, T>> {
        if !arr.is_c_contiguous() {
            return Err(PyValueError::new_err(format!(
                "{name}[{i}]: not contiguous"
            )));
        }
        let writeable =
            || -> PyResult<bool> { arr.getattr("flags")?.getattr("writeable")?.extract() };
        if write && !writeable()? {
            return Err(PyValueError::new_err(format!(
                "{name}[{i}]: read-only, cannot be updated in place"
            )));
        }
        Ok(Part {
            source: Source::NumPy(arr.clone()),
            ptr: arr.data() as usize,
            len: PyUntypedArrayMethods::len(arr),
        })
    }

    /// A torch tensor of `T`'s dtype ([`Np::TORCH`]) on the CPU, C-contiguous;
    /// a tensor only read that is not contiguous is copied once
    /// (`torch.Tensor.contiguous`). CPU tensors are writable.
    ///
    /// Only `torch.Tensor` and `torch.nn.Parameter` themselves are taken (a
    /// subclass may mean anything by its data). The memory, device, dtype
    /// and layout come from the DLPack capsule `to_dlpack` returns (one
    /// call, and nothing Python code can answer instead: see [`Torch`]).
    fn torch(
        name: &str,
        i: usize,
        t: &Bound<'py, PyAny>,
        torch: &Torch<'py>,
        write: bool,
    ) -> PyResult<Part<'py, T>> {
        let ty = t.get_type();
        if !ty.is(&torch.tensor) && !ty.is(&torch.parameter) {
            return Err(if t.is_instance(&torch.tensor)? {
                PyTypeError::new_err(format!(
                    "{name}[{i}]: a {ty}; only torch.Tensor and torch.nn.Parameter are read in place"
                ))
            } else {
                Self::not_an_array(name, i)
            });
        }
        let dl = Self::dlpack(name, i, t, torch)?;
        let (dl, (ptr, len)) = match Self::memory(name, i, dl.tensor())? {
            Some(memory) => (dl, memory),
            None if write => {
                return Err(PyValueError::new_err(format!(
                    "{name}[{i}]: not contiguous; cannot be updated in place"
                )));
            }
            None => {
                let copy = Self::dlpack(name, i, &torch.contiguous.call1((t,))?, torch)?;
                let memory = Self::memory(name, i, copy.tensor())?.ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "{name}[{i}]: not contiguous, nor is its contiguous() copy"
                    ))
                })?;
                (copy, memory)
            }
        };
        Ok(Part {
            source: Source::DlPack(dl),
            ptr,
            len,
        })
    }

    /// The DLPack tensor `to_dlpack(t)` exports, consumed.
    fn dlpack(name: &str, i: usize, t: &Bound<'py, PyAny>, torch: &Torch<'py>) -> PyResult<Dl> {
        let py = t.py();
        let capsule = torch.to_dlpack.call1((t,)).map_err(|e| {
            let msg = format!("{name}[{i}]: cannot be read in place: {}", e.value(py));
            if e.is_instance_of::<PyTypeError>(py) {
                PyTypeError::new_err(msg)
            } else {
                PyValueError::new_err(msg) // BufferError: meta, sparse, ...
            }
        })?;
        Dl::consume(&capsule).ok_or_else(|| {
            PyTypeError::new_err(format!(
                "{name}[{i}]: to_dlpack returned a {}, not an unused DLPack capsule",
                capsule.get_type()
            ))
        })
    }

    /// Checks a DLPack tensor against `T` (on the CPU, of `T`'s dtype, a
    /// shape of at most `isize::MAX` bytes) and gives its `(address,
    /// elements)`, or `None` if it is not C-contiguous (dimensions of one
    /// element may have any stride).
    fn memory(name: &str, i: usize, t: &DlTensor) -> PyResult<Option<(usize, usize)>> {
        let bad = || PyValueError::new_err(format!("{name}[{i}]: a malformed DLPack tensor"));
        if t.device_type != 1 {
            return Err(PyValueError::new_err(format!(
                "{name}[{i}]: not a CPU tensor (DLPack device type {})",
                t.device_type
            )));
        }
        if (t.code, t.bits, t.lanes) != (T::DL.0, T::DL.1, 1) {
            return Err(PyTypeError::new_err(format!(
                "{name}[{i}]: dtype {}, but the call's element type is {}",
                dl_dtype(t.code, t.bits, t.lanes),
                T::TORCH
            )));
        }
        let ndim = usize::try_from(t.ndim).map_err(|_| bad())?;
        if ndim > 0 && t.shape.is_null() {
            return Err(bad());
        }
        // SAFETY: `t` is a live DLPack tensor (`Dl::tensor`): for `ndim > 0`
        // `shape` (checked non-null) points to `ndim` sizes and `strides` is
        // null (compact) or points to `ndim` strides, valid as long as `t`.
        let (shape, strides): (&[i64], Option<&[i64]>) = unsafe {
            if ndim == 0 {
                (&[], None)
            } else {
                let shape = std::slice::from_raw_parts(t.shape, ndim);
                let strides =
                    (!t.strides.is_null()).then(|| std::slice::from_raw_parts(t.strides, ndim));
                (shape, strides)
            }
        };
        let mut len = 1usize;
        for &n in shape {
            len = usize::try_from(n)
                .ok()
                .and_then(|n| len.checked_mul(n))
                .ok_or_else(bad)?;
        }
        let bytes = len
            .checked_mul(size_of::<T>())
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or_else(bad)?;
        if len == 0 {
            return Ok(Some((0, 0))); // `Arg::new` makes the address dangling
        }
        if let Some(strides) = strides {
            // Every size is ≥ 1 and their product fits in an isize.
            let mut step = 1i64;
            for (&n, &s) in shape.iter().zip(strides).rev() {
                if n != 1 && s != step {
                    return Ok(None);
                }
                step *= n;
            }
        }
        let ptr = usize::try_from(t.byte_offset)
            .ok()
            .and_then(|o| (t.data as usize).checked_add(o))
            .filter(|&p| p != 0 && p.checked_add(bytes).is_some())
            .ok_or_else(bad)?;
        Ok(Some((ptr, len)))
    }

    /// Each array's byte range, for the overlap check.
    fn ranges(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        self.parts
            .iter()
            .enumerate()
            .map(|(i, p)| (i, p.ptr, p.ptr + p.len * size_of::<T>()))
    }

    /// Borrows the NumPy arrays and claims every range, for reading.
    fn read(&self) -> PyResult<Held<'py, T>> {
        Ok(Held {
            borrows: Borrows::Read(self.borrow(|a| a.try_readonly())?),
            _claim: self.claim(false)?,
        })
    }

    /// Borrows the NumPy arrays and claims every range, for writing.
    fn write(&self) -> PyResult<Held<'py, T>> {
        Ok(Held {
            borrows: Borrows::Write(self.borrow(|a| a.try_readwrite())?),
            _claim: self.claim(true)?,
        })
    }

    /// The numpy crate's borrow of each NumPy array (`None` for tensors).
    fn borrow<B>(
        &self,
        how: impl Fn(&Bound<'py, PyArrayDyn<T>>) -> Result<B, numpy::BorrowError>,
    ) -> PyResult<Vec<Option<B>>> {
        self.parts
            .iter()
            .enumerate()
            .map(|(i, p)| match &p.source {
                Source::NumPy(a) => how(a)
                    .map(Some)
                    .map_err(|e| PyValueError::new_err(format!("{}[{i}]: {e}", self.name))),
                Source::DlPack(_) => Ok(None),
            })
            .collect()
    }

    fn claim(&self, write: bool) -> PyResult<Claim> {
        let ranges: Vec<_> = self.ranges().collect();
        Claim::new(self.name, &ranges, write)
    }

    /// The argument's slices, for reading.
    fn slices<'b>(&'b self, held: &'b Held<'py, T>) -> Vec<&'b [T::R]> {
        let _ = held;
        self.parts
            .iter()
            .map(|p| {
                // SAFETY: `p.ptr` is the start of `p.len` initialised
                // elements of type `T`, aligned (checked in `new`; dangling
                // if `p.len` is 0), in memory `p.source` keeps valid for as
                // long as this `Arg` lives: a C-contiguous NumPy array's
                // buffer (borrowed through the numpy crate in `held`, which
                // outlives the slice) or a consumed DLPack tensor, checked
                // in `memory` to hold `p.len` C-contiguous elements of `T`'s
                // dtype on the CPU (nothing Python code answers is trusted:
                // see `Torch`). `T::R` has `T`'s layout (`Np`). No regnorm
                // call writes it meanwhile: an argument written in the same
                // call overlaps none of these ranges (`check_no_overlap`),
                // and `held` claims them against every other call running
                // now ([`Claim`]). Python code that writes or resizes a
                // tensor from another thread while a call reads it is
                // outside what this module can see (as for torch's own
                // operations): documented.
                let s = unsafe { std::slice::from_raw_parts(p.ptr as *const T, p.len) };
                T::cast(s)
            })
            .collect()
    }

    /// The argument's slices, for writing in place.
    fn slices_mut<'b>(&'b self, held: &'b mut Held<'py, T>) -> Vec<&'b mut [T::R]> {
        assert!(
            matches!(held.borrows, Borrows::Write(_)),
            "borrowed for writing"
        );
        self.parts
            .iter()
            .map(|p| {
                // SAFETY: as in `slices`; besides, the memory is writable
                // (a writeable NumPy array, borrowed read-write in `held`;
                // or a CPU tensor's, which torch writes in place too),
                // overlaps no other array of the call (`check_no_overlap`)
                // and no range another running call reads or writes
                // (`held`'s claim), so this is the only reference to it.
                let s = unsafe { std::slice::from_raw_parts_mut(p.ptr as *mut T, p.len) };
                T::cast_mut(s)
            })
            .collect()
    }
}

/// Fails if an array of `written` shares a byte with any other array of
/// `written` or of `read`: two `&mut`, or a `&` and a `&mut`, to the same
/// memory would be undefined behaviour. (Arrays only read may share memory:
/// tied weights.) One sweep over the ranges sorted by start: a range
/// overlaps an earlier one exactly when it starts before the furthest end
/// seen so far, so it is enough to keep the furthest end of all ranges and
/// of the written ones.
fn check_no_overlap<T: Np>(
    written: &Arg<'_, '_, T>,
    read: Option<&Arg<'_, '_, T>>,
) -> PyResult<()> {
    // (start, end, written, name, index), empty ranges left out.
    let mut all: Vec<(usize, usize, bool, &str, usize)> = written
        .ranges()
        .map(|(i, s, e)| (s, e, true, written.name, i))
        .collect();
    if let Some(r) = read {
        all.extend(r.ranges().map(|(i, s, e)| (s, e, false, r.name, i)));
    }
    all.retain(|&(s, e, ..)| s < e);
    all.sort_unstable_by_key(|&(s, e, ..)| (s, e));
    type Furthest<'n> = Option<(usize, &'n str, usize)>;
    let (mut any, mut any_written): (Furthest, Furthest) = (None, None);
    for &(s, e, w, name, i) in &all {
        let earlier = if w { any } else { any_written };
        if let Some((end, n, j)) = earlier
            && s < end
        {
            return Err(PyValueError::new_err(format!(
                "{n}[{j}] and {name}[{i}] share memory: an array updated in place \
                 must not overlap any other array of the call"
            )));
        }
        if any.is_none_or(|(end, ..)| e > end) {
            any = Some((e, name, i));
        }
        if w && any_written.is_none_or(|(end, ..)| e > end) {
            any_written = Some((e, name, i));
        }
    }
    Ok(())
}

fn value_error(e: regnorm::Error) -> PyErr {
    match e {
        regnorm::Error::NonFiniteNorm { .. } => PyRuntimeError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// `(Σ|x|, Σx²)` of a model, in the crate's canonical order.
#[pyfunction]
fn sums(py: Python<'_>, xs: Vec<Bound<'_, PyAny>>, kind: &str) -> PyResult<(f64, f64)> {
    by_kind!(kind, T => {
        let arg = Arg::<T>::new("x", &xs, false)?;
        let held = arg.read()?;
        let s = arg.slices(&held);
        let r = py.detach(|| regnorm::Exec::new().model_sums(&s));
        Ok((r.abs, r.sq))
    })
}

/// Σ|x| of a model (only that sum is computed).
#[pyfunction]
fn sum_abs(py: Python<'_>, xs: Vec<Bound<'_, PyAny>>, kind: &str) -> PyResult<f64> {
    by_kind!(kind, T => {
        let arg = Arg::<T>::new("x", &xs, false)?;
        let held = arg.read()?;
        let s = arg.slices(&held);
        Ok(py.detach(|| L1::new(1.0).expect("valid").penalty_model(&s)))
    })
}

/// Σx² of a model (only that sum is computed).
#[pyfunction]
fn sum_sq(py: Python<'_>, xs: Vec<Bound<'_, PyAny>>, kind: &str) -> PyResult<f64> {
    by_kind!(kind, T => {
        let arg = Arg::<T>::new("x", &xs, false)?;
        let held = arg.read()?;
        let s = arg.slices(&held);
        Ok(py.detach(|| L2::new(1.0).expect("valid").penalty_model(&s)))
    })
}

/// One of the crate's three regularizers.
#[derive(Clone, Copy)]
enum Reg {
    L1(L1),
    L2(L2),
    ElasticNet(ElasticNet),
}

/// Runs `$body` with `$r` bound to the regularizer inside `$reg`.
macro_rules! with_reg {
    ($reg:expr, $r:ident => $body:expr) => {
        match $reg {
            Reg::L1($r) => $body,
            Reg::L2($r) => $body,
            Reg::ElasticNet($r) => $body,
        }
    };
}

/// A regularizer built by the Rust constructors (bad λ or ratio: ValueError).
#[pyclass(frozen, name = "Regularizer", module = "regnorm._native")]
struct Regularizer_ {
    reg: Reg,
}

#[pymethods]
impl Regularizer_ {
    /// λ·Σ|w|.
    #[staticmethod]
    fn l1(lam: f64) -> PyResult<Self> {
        Ok(Regularizer_ {
            reg: Reg::L1(L1::new(lam).map_err(value_error)?),
        })
    }

    /// λ·Σw².
    #[staticmethod]
    fn l2(lam: f64) -> PyResult<Self> {
        Ok(Regularizer_ {
            reg: Reg::L2(L2::new(lam).map_err(value_error)?),
        })
    }

    /// λ·(r·Σ|w| + (1−r)/2·Σw²).
    #[staticmethod]
    fn elastic_net(lam: f64, l1_ratio: f64) -> PyResult<Self> {
        Ok(Regularizer_ {
            reg: Reg::ElasticNet(ElasticNet::new(lam, l1_ratio).map_err(value_error)?),
        })
    }

    fn penalty(&self, py: Python<'_>, xs: Vec<Bound<'_, PyAny>>, kind: &str) -> PyResult<f64> {
        by_kind!(kind, T => {
            let arg = Arg::<T>::new("params", &xs, false)?;
            let held = arg.read()?;
            let s = arg.slices(&held);
            Ok(py.detach(|| with_reg!(self.reg, r => r.penalty_model(&s))))
        })
    }

    /// Adds the penalty's gradient to `grads` (and, with `value`, returns
    /// the penalty from the same pass; else 0.0).
    fn gradient(
        &self,
        py: Python<'_>,
        params: Vec<Bound<'_, PyAny>>,
        grads: Vec<Bound<'_, PyAny>>,
        kind: &str,
        value: bool,
    ) -> PyResult<f64> {
        if params.len() != grads.len() {
            return Err(PyValueError::new_err(format!(
                "{} params but {} grads",
                params.len(),
                grads.len()
            )));
        }
        by_kind!(kind, T => {
            let p = Arg::<T>::new("params", &params, false)?;
            let g = Arg::<T>::new("grads", &grads, true)?;
            for (i, (a, b)) in p.parts.iter().zip(&g.parts).enumerate() {
                let (na, nb) = (a.len, b.len);
                if na != nb {
                    return Err(PyValueError::new_err(format!(
                        "params[{i}] has {na} elements but grads[{i}] has {nb}"
                    )));
                }
            }
            check_no_overlap(&g, Some(&p))?;
            let pg = p.read()?;
            let mut gg = g.write()?;
            let ps = p.slices(&pg);
            let gs = g.slices_mut(&mut gg);
            py.detach(|| {
                with_reg!(self.reg, r => if value {
                    r.penalty_and_gradient_model(&ps, gs)
                } else {
                    r.add_gradient_model(&ps, gs).map(|()| 0.0)
                })
            })
            .map_err(value_error)
        })
    }

    /// The proximal step in place; returns (penalty after, zeros after).
    fn prox_step(
        &self,
        py: Python<'_>,
        params: Vec<Bound<'_, PyAny>>,
        eta: f64,
        kind: &str,
    ) -> PyResult<(f64, usize)> {
        by_kind!(kind, T => {
            let p = Arg::<T>::new("params", &params, true)?;
            check_no_overlap(&p, None)?;
            let mut pg = p.write()?;
            let ps = p.slices_mut(&mut pg);
            let s = py
                .detach(|| with_reg!(self.reg, r => r.prox_step_model(ps, eta)))
                .map_err(value_error)?;
            Ok((s.penalty, s.zeros))
        })
    }
}

/// Checks a weight-decay λ (ValueError if invalid).
#[pyfunction]
fn check_decay(lam: f64) -> PyResult<()> {
    WeightDecay::new(lam).map(|_| ()).map_err(value_error)
}

/// `w ← w − η·λ·w` in place.
#[pyfunction]
fn decay(
    py: Python<'_>,
    lam: f64,
    params: Vec<Bound<'_, PyAny>>,
    eta: f64,
    kind: &str,
) -> PyResult<()> {
    let wd = WeightDecay::new(lam).map_err(value_error)?;
    by_kind!(kind, T => {
        let p = Arg::<T>::new("params", &params, true)?;
        check_no_overlap(&p, None)?;
        let mut pg = p.write()?;
        let ps = p.slices_mut(&mut pg);
        py.detach(|| wd.apply_model(ps, eta)).map_err(value_error)
    })
}

/// Checks a clipping threshold (ValueError if invalid).
#[pyfunction]
fn check_clip(max_norm: f64) -> PyResult<()> {
    ClipGradNorm::new(max_norm).map(|_| ()).map_err(value_error)
}

/// Global-norm clipping in place; returns the norm before clipping. With
/// `total`, that norm is given (for shards) rather than computed.
#[pyfunction]
#[pyo3(signature = (max_norm, error_if_nonfinite, grads, kind, total=None))]
fn clip(
    py: Python<'_>,
    max_norm: f64,
    error_if_nonfinite: bool,
    grads: Vec<Bound<'_, PyAny>>,
    kind: &str,
    total: Option<f64>,
) -> PyResult<f64> {
    let c = ClipGradNorm::new(max_norm)
        .map_err(value_error)?
        .error_if_nonfinite(error_if_nonfinite);
    by_kind!(kind, T => {
        let g = Arg::<T>::new("grads", &grads, true)?;
        check_no_overlap(&g, None)?;
        let mut gg = g.write()?;
        let gs = g.slices_mut(&mut gg);
        py.detach(|| match total {
            Some(t) => c.clip_with_norm(t, gs),
            None => c.clip_model(gs),
        })
        .map_err(value_error)
    })
}

/// For `bench/bench.py`: seconds per call of the Rust crate's own
/// `L1::penalty_model` over these arrays, borrowed once (the median of
/// `rounds` batches of `reps` calls), so that the Python layer's cost can be
/// measured in the same process on the same buffers.
#[pyfunction]
fn _time_l1_penalty(
    py: Python<'_>,
    xs: Vec<Bound<'_, PyAny>>,
    kind: &str,
    reps: usize,
    rounds: usize,
) -> PyResult<f64> {
    by_kind!(kind, T => {
        let arg = Arg::<T>::new("x", &xs, false)?;
        let held = arg.read()?;
        let s = arg.slices(&held);
        let l1 = L1::new(1e-4).map_err(value_error)?;
        Ok(py.detach(|| {
            let mut times: Vec<f64> = (0..rounds.max(1))
                .map(|_| {
                    let start = std::time::Instant::now();
                    for _ in 0..reps.max(1) {
                        std::hint::black_box(l1.penalty_model(std::hint::black_box(&s)));
                    }
                    start.elapsed().as_secs_f64() / reps.max(1) as f64
                })
                .collect();
            times.sort_by(f64::total_cmp);
            times[times.len() / 2]
        }))
    })
}

/// For the tests: holds the claim a native call would hold on these arrays
/// (for writing if `write`) while `callback()` runs, so that a test can make
/// a second call exactly while a first one is running.
#[pyfunction]
fn _while_claimed(
    xs: Vec<Bound<'_, PyAny>>,
    kind: &str,
    write: bool,
    callback: Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    by_kind!(kind, T => {
        let arg = Arg::<T>::new("x", &xs, write)?;
        let _held = if write { arg.write()? } else { arg.read()? };
        Ok(callback.call0()?.unbind())
    })
}

/// The shard unit of an element kind: pieces start and end at multiples of
/// it (or at a tensor's end).
#[pyfunction]
fn shard_unit(lens: Vec<usize>, kind: &str) -> PyResult<usize> {
    by_kind!(kind, T => Ok(Layout::<<T as Np>::R>::new(lens).unit()))
}

/// `Layout::split`: tensor `tensor` in `parts` ranges, as `(start, stop)`.
#[pyfunction]
fn shard_split(
    lens: Vec<usize>,
    tensor: usize,
    parts: usize,
    kind: &str,
) -> PyResult<Vec<(usize, usize)>> {
    by_kind!(kind, T => Ok(Layout::<<T as Np>::R>::new(lens)
        .split(tensor, parts)
        .map_err(value_error)?
        .into_iter()
        .map(|r| (r.start, r.end))
        .collect()))
}

/// This process's pieces (`tensors[i]`, `offsets[i]`, `xs[i]`) of the model
/// of `lens`, reduced to a [`Partial`] of both sums and encoded as `u64`
/// words (a NumPy array) for any transport. A bad piece is recorded in the
/// words, so that every process's merge reports it.
#[pyfunction]
fn shard_partial_sums<'py>(
    py: Python<'py>,
    lens: Vec<usize>,
    tensors: Vec<usize>,
    offsets: Vec<usize>,
    xs: Vec<Bound<'py, PyAny>>,
    kind: &str,
) -> PyResult<Bound<'py, numpy::PyArray1<u64>>> {
    if tensors.len() != xs.len() || offsets.len() != xs.len() {
        return Err(PyValueError::new_err(
            "tensors, offsets and pieces differ in length",
        ));
    }
    let words = by_kind!(kind, T => {
        let arg = Arg::<T>::new("pieces", &xs, false)?;
        let held = arg.read()?;
        let s = arg.slices(&held);
        let layout = Layout::<<T as Np>::R>::new(lens);
        let pieces: Vec<Piece<&[<T as Np>::R]>> = s
            .iter()
            .zip(tensors.iter().zip(&offsets))
            .map(|(x, (&t, &o))| Piece::new(t, o, *x))
            .collect();
        Ok::<Vec<u64>, PyErr>(py.detach(|| regnorm::Exec::new().partial_sums(&layout, &pieces).encode()))
    })?;
    Ok(numpy::PyArray1::from_vec(py, words))
}

/// `(Σ|x|, Σx²)`.
type SumPair = (f64, f64);

/// Decodes every process's words (in rank order) and merges them: the
/// model's `(Σ|x|, Σx²)` and each tensor's, with the bits one process gets
/// over the whole model.
#[pyfunction]
fn shard_merge(
    lens: Vec<usize>,
    words: Vec<numpy::PyReadonlyArray1<'_, u64>>,
    kind: &str,
) -> PyResult<(SumPair, Vec<SumPair>)> {
    let parts = words
        .iter()
        .map(|w| {
            let w = w
                .as_slice()
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            Partial::decode(w).map_err(value_error)
        })
        .collect::<PyResult<Vec<Partial>>>()?;
    let merged = by_kind!(kind, T => {
        Partial::merge(&Layout::<<T as Np>::R>::new(lens), &parts).map_err(value_error)
    })?;
    Ok((
        (merged.total.abs, merged.total.sq),
        merged.tensors.iter().map(|s| (s.abs, s.sq)).collect(),
    ))
}

/// Limits the threads regnorm uses (0: back to the default).
#[pyfunction]
fn set_num_threads(n: usize) {
    regnorm::set_num_threads(n);
}

/// The threads a call may use.
#[pyfunction]
fn get_num_threads() -> usize {
    regnorm::num_threads()
}

/// The kernel tier the dispatch uses on this CPU.
#[pyfunction]
fn tier() -> String {
    regnorm::Tier::best().name().to_string()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Regularizer_>()?;
    m.add_function(wrap_pyfunction!(sums, m)?)?;
    m.add_function(wrap_pyfunction!(sum_abs, m)?)?;
    m.add_function(wrap_pyfunction!(sum_sq, m)?)?;
    m.add_function(wrap_pyfunction!(check_decay, m)?)?;
    m.add_function(wrap_pyfunction!(decay, m)?)?;
    m.add_function(wrap_pyfunction!(check_clip, m)?)?;
    m.add_function(wrap_pyfunction!(clip, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(tier, m)?)?;
    m.add_function(wrap_pyfunction!(_time_l1_penalty, m)?)?;
    m.add_function(wrap_pyfunction!(_while_claimed, m)?)?;
    m.add_function(wrap_pyfunction!(shard_unit, m)?)?;
    m.add_function(wrap_pyfunction!(shard_split, m)?)?;
    m.add_function(wrap_pyfunction!(shard_partial_sums, m)?)?;
    m.add_function(wrap_pyfunction!(shard_merge, m)?)?;
    Ok(())
}
