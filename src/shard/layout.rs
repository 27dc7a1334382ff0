//! The layout every rank shares, and the pieces a rank holds.

use core::marker::PhantomData;
use core::ops::Range;

use crate::element::Element;
use crate::error::Error;
use crate::order::super_len;
use crate::tensors::collect_items;

/// The global shape of a sharded model of element type `T`: every tensor's
/// length, the same on every rank.
///
/// ```
/// use regnorm::shard::Layout;
/// let layout = Layout::<f32>::new([768 * 3072, 768]);
/// assert_eq!(layout.tensors(), 2);
/// assert_eq!(layout.tensor_len(1), Some(768));
/// assert_eq!(layout.unit(), 16_384);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout<T: Element> {
    pub(super) lens: Vec<usize>,
    pub(super) fingerprint: u64,
    elem: PhantomData<fn() -> T>,
}

impl<T: Element> Layout<T> {
    /// A model whose tensor `i` has `lens[i]` elements.
    ///
    /// ```
    /// let layout = regnorm::shard::Layout::<f64>::new(vec![10, 0, 5]);
    /// assert_eq!(layout.tensors(), 3);
    /// ```
    pub fn new(lens: impl IntoIterator<Item = usize>) -> Layout<T> {
        let lens = collect_items(lens);
        // FNV-1a over the element type, the unit and every length.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let words = [T::TAG, super_len::<T>() as u64, lens.len() as u64];
        for w in words.into_iter().chain(lens.iter().map(|&l| l as u64)) {
            for byte in w.to_le_bytes() {
                h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        Layout {
            lens,
            fingerprint: h,
            elem: PhantomData,
        }
    }

    /// The layout of a whole, unsharded model.
    ///
    /// ```
    /// let model = vec![vec![1.0f32; 3], vec![2.0; 5]];
    /// let layout = regnorm::shard::Layout::of(&model);
    /// assert_eq!(layout, regnorm::shard::Layout::<f32>::new([3, 5]));
    /// ```
    pub fn of<I>(tensors: I) -> Layout<T>
    where
        I: IntoIterator,
        I::Item: AsRef<[T]>,
    {
        Layout::new(tensors.into_iter().map(|t| t.as_ref().len()))
    }

    /// The number of tensors.
    ///
    /// ```
    /// assert_eq!(regnorm::shard::Layout::<f32>::new([1, 2]).tensors(), 2);
    /// ```
    pub fn tensors(&self) -> usize {
        self.lens.len()
    }

    /// The length of tensor `tensor`, if there is one.
    ///
    /// ```
    /// let layout = regnorm::shard::Layout::<f32>::new([7]);
    /// assert_eq!((layout.tensor_len(0), layout.tensor_len(1)), (Some(7), None));
    /// ```
    pub fn tensor_len(&self, tensor: usize) -> Option<usize> {
        self.lens.get(tensor).copied()
    }

    /// The granule of a split: one super-chunk of the canonical order
    /// (64 KiB of elements: 16,384 `f32`, `bf16` or `f16`; 8,192 `f64`).
    ///
    /// ```
    /// assert_eq!(regnorm::shard::Layout::<f64>::new([]).unit(), 8_192);
    /// ```
    pub fn unit(&self) -> usize {
        super_len::<T>()
    }

    /// A hash of the element type and every length, which partials carry
    /// so that a merge can tell that all ranks described the same model.
    ///
    /// ```
    /// use regnorm::shard::Layout;
    /// assert_ne!(Layout::<f32>::new([4, 5]).fingerprint(), Layout::<f32>::new([5, 4]).fingerprint());
    /// assert_ne!(Layout::<f32>::new([4]).fingerprint(), Layout::<f64>::new([4]).fingerprint());
    /// ```
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Splits tensor `tensor` into `parts` contiguous ranges, as equal as
    /// whole units allow (earlier ranges are never shorter by more than one
    /// unit; a range is empty when there are more parts than units).
    ///
    /// # Errors
    /// [`Error::UnknownTensor`] if there is no such tensor,
    /// [`Error::InvalidParts`] if `parts` is 0 or more ranges than memory
    /// can hold.
    ///
    /// ```
    /// let layout = regnorm::shard::Layout::<f32>::new([40_000]);
    /// assert_eq!(layout.split(0, 2)?, vec![0..16_384, 16_384..40_000]);
    /// assert_eq!(layout.split(0, 4)?, vec![0..0, 0..16_384, 16_384..32_768, 32_768..40_000]);
    /// assert!(layout.split(0, 0).is_err());
    /// assert!(layout.split(0, usize::MAX).is_err());
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn split(&self, tensor: usize, parts: usize) -> Result<Vec<Range<usize>>, Error> {
        let len = self.len_or_err(tensor)?;
        if parts == 0 {
            return Err(Error::InvalidParts { parts });
        }
        let (unit, chunks) = (self.unit(), len.div_ceil(self.unit()));
        // In u128: `i · chunks` overflows usize for absurd part counts.
        let bound = |i: usize| {
            let chunk = (i as u128 * chunks as u128 / parts as u128) as usize;
            chunk.saturating_mul(unit).min(len)
        };
        let mut ranges = Vec::new();
        ranges
            .try_reserve_exact(parts)
            .map_err(|_| Error::InvalidParts { parts })?;
        ranges.extend((0..parts).map(|i| bound(i)..bound(i + 1)));
        Ok(ranges)
    }

    /// `Ok` if elements `range` of tensor `tensor` may form one piece: the
    /// range lies in the tensor, starts at a multiple of [`unit`](Layout::unit)
    /// (or at the tensor's end) and ends at one (or at the tensor's end).
    ///
    /// # Errors
    /// [`Error::UnknownTensor`], [`Error::ShardOutOfRange`] or
    /// [`Error::ShardMisaligned`], whose message states the rule.
    ///
    /// ```
    /// let layout = regnorm::shard::Layout::<f32>::new([40_000]);
    /// assert!(layout.check(0, 16_384..40_000).is_ok());
    /// let err = layout.check(0, 1_000..40_000).unwrap_err();
    /// assert!(err.to_string().contains("multiple of 16384"));
    /// # Ok::<(), regnorm::Error>(())
    /// ```
    pub fn check(&self, tensor: usize, range: Range<usize>) -> Result<(), Error> {
        let tensor_len = self.len_or_err(tensor)?;
        let Range { start, end } = range;
        if start > end || end > tensor_len {
            return Err(Error::ShardOutOfRange {
                tensor,
                start,
                end,
                tensor_len,
            });
        }
        let unit = self.unit();
        let on_boundary = |i: usize| i.is_multiple_of(unit) || i == tensor_len;
        if on_boundary(start) && on_boundary(end) {
            Ok(())
        } else {
            Err(Error::ShardMisaligned {
                tensor,
                start,
                end,
                unit,
            })
        }
    }

    pub(super) fn len_or_err(&self, tensor: usize) -> Result<usize, Error> {
        self.tensor_len(tensor).ok_or(Error::UnknownTensor {
            tensor,
            tensors: self.tensors(),
        })
    }
}

/// A rank's piece of a sharded model: elements `offset..offset +
/// data.len()` of tensor `tensor`. `S` is `&[T]` to read, `&mut [T]` to
/// write.
///
/// ```
/// let w = vec![0.0f32; 100];
/// let piece = regnorm::shard::Piece::new(3, 0, &w[..]);
/// assert_eq!((piece.tensor, piece.offset, piece.data.len()), (3, 0, 100));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Piece<S> {
    /// The tensor's index in the [`Layout`].
    pub tensor: usize,
    /// The index, in the tensor, of the piece's first element.
    pub offset: usize,
    /// The elements.
    pub data: S,
}

impl<S> Piece<S> {
    /// Elements `offset..` of tensor `tensor`.
    ///
    /// ```
    /// let piece = regnorm::shard::Piece::new(0, 16_384, vec![1.0f32; 8]);
    /// assert_eq!(piece.offset, 16_384);
    /// ```
    pub fn new(tensor: usize, offset: usize, data: S) -> Piece<S> {
        Piece {
            tensor,
            offset,
            data,
        }
    }
}
