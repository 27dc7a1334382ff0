//! The wire format: a partial as `u64` words, errors included.

use super::partial::{Node, Partial};
use crate::error::Error;
use crate::kernels::{Sums, Tier};

/// The first word of an encoded partial: "RNPART" and the format version.
const MAGIC: u64 = 0x524e_5041_5254_0001;
/// Words before the nodes: magic, fingerprint, error (code and four
/// payload words), node count.
const HEADER_WORDS: usize = 8;
/// Words per node: tensor, first, chunks, Σ|w| bits, Σw² bits.
const NODE_WORDS: usize = 5;

impl Partial {
    /// The partial as `u64` words (`f64` values as their bits), for any
    /// transport: `8 + 5 × nodes` words.
    ///
    /// ```
    /// let layout = regnorm::shard::Layout::<f32>::new([4]);
    /// let part = regnorm::Exec::new().partial_sums(&layout, &[regnorm::shard::Piece::new(0, 0, &[1.0f32; 4][..])]);
    /// assert_eq!(part.encode().len(), 8 + 5);
    /// ```
    pub fn encode(&self) -> Vec<u64> {
        let mut words = Vec::with_capacity(HEADER_WORDS + NODE_WORDS * self.nodes.len());
        words.extend([MAGIC, self.fingerprint]);
        words.extend(self.error.map_or([0; 5], error_to_words));
        words.push(self.nodes.len() as u64);
        for n in &self.nodes {
            words.extend([
                n.tensor as u64,
                n.first as u64,
                n.chunks as u64,
                n.sums.abs.to_bits(),
                n.sums.sq.to_bits(),
            ]);
        }
        words
    }

    /// The partial [`encode`](Partial::encode) made these words from.
    ///
    /// # Errors
    /// [`Error::MalformedPartial`] if the words are not an encoded partial
    /// of this format.
    ///
    /// ```
    /// use regnorm::shard::Partial;
    /// assert_eq!(Partial::decode(&[1, 2, 3]), Err(regnorm::Error::MalformedPartial));
    /// ```
    pub fn decode(words: &[u64]) -> Result<Partial, Error> {
        let bad = Error::MalformedPartial;
        let (header, body) = words.split_at_checked(HEADER_WORDS).ok_or(bad)?;
        let count = usize::try_from(header[7]).map_err(|_| bad)?;
        if header[0] != MAGIC || Some(body.len()) != count.checked_mul(NODE_WORDS) {
            return Err(bad);
        }
        let error = match header[2] {
            0 => None,
            _ => Some(error_from_words(header[2..7].try_into().map_err(|_| bad)?).ok_or(bad)?),
        };
        let index = |w: u64| usize::try_from(w).map_err(|_| bad);
        let nodes = body
            .chunks_exact(NODE_WORDS)
            .map(|n| {
                let node = Node {
                    tensor: index(n[0])?,
                    first: index(n[1])?,
                    chunks: index(n[2])?,
                    sums: Sums {
                        abs: f64::from_bits(n[3]),
                        sq: f64::from_bits(n[4]),
                    },
                };
                if node.chunks == 0 {
                    return Err(bad);
                }
                Ok(node)
            })
            .collect::<Result<Vec<Node>, Error>>()?;
        Ok(Partial {
            fingerprint: header[1],
            error,
            nodes,
        })
    }
}

/// An error as five words: a code and four payload words (`f64` as bits).
/// Code 0 is "no error".
fn error_to_words(e: Error) -> [u64; 5] {
    let u = |v: usize| v as u64;
    let f = f64::to_bits;
    match e {
        Error::InvalidLambda { lambda } => [1, f(lambda), 0, 0, 0],
        Error::InvalidL1Ratio { l1_ratio } => [2, f(l1_ratio), 0, 0, 0],
        Error::TierUnavailable { tier } => {
            let index = Tier::ALL.iter().position(|&t| t == tier).unwrap_or(0);
            [3, u(index), 0, 0, 0]
        }
        Error::InvalidStep { eta } => [4, f(eta), 0, 0, 0],
        Error::InvalidMaxNorm { max_norm } => [5, f(max_norm), 0, 0, 0],
        Error::TensorCountMismatch { params, grads } => [6, u(params), u(grads), 0, 0],
        Error::LengthMismatch {
            index,
            params,
            grads,
        } => [7, u(index), u(params), u(grads), 0],
        Error::NonFiniteNorm { total } => [8, f(total), 0, 0, 0],
        Error::UnknownTensor { tensor, tensors } => [9, u(tensor), u(tensors), 0, 0],
        Error::ShardOutOfRange {
            tensor,
            start,
            end,
            tensor_len,
        } => [10, u(tensor), u(start), u(end), u(tensor_len)],
        Error::ShardMisaligned {
            tensor,
            start,
            end,
            unit,
        } => [11, u(tensor), u(start), u(end), u(unit)],
        Error::ShardOverlap { tensor, offset } => [12, u(tensor), u(offset), 0, 0],
        Error::ShardGap { tensor, offset } => [13, u(tensor), u(offset), 0, 0],
        Error::LayoutMismatch { part } => [14, u(part), 0, 0, 0],
        Error::MalformedPartial => [15, 0, 0, 0, 0],
        Error::InvalidParts { parts } => [16, u(parts), 0, 0, 0],
        Error::CallMismatch { part } => [17, u(part), 0, 0, 0],
        Error::RankPanicked { part } => [18, u(part), 0, 0, 0],
    }
}

/// The error [`error_to_words`] made these words from.
fn error_from_words(w: [u64; 5]) -> Option<Error> {
    let u = |i: usize| usize::try_from(w[i]).ok();
    let f = |i: usize| f64::from_bits(w[i]);
    Some(match w[0] {
        1 => Error::InvalidLambda { lambda: f(1) },
        2 => Error::InvalidL1Ratio { l1_ratio: f(1) },
        3 => Error::TierUnavailable {
            tier: *Tier::ALL.get(u(1)?)?,
        },
        4 => Error::InvalidStep { eta: f(1) },
        5 => Error::InvalidMaxNorm { max_norm: f(1) },
        6 => Error::TensorCountMismatch {
            params: u(1)?,
            grads: u(2)?,
        },
        7 => Error::LengthMismatch {
            index: u(1)?,
            params: u(2)?,
            grads: u(3)?,
        },
        8 => Error::NonFiniteNorm { total: f(1) },
        9 => Error::UnknownTensor {
            tensor: u(1)?,
            tensors: u(2)?,
        },
        10 => Error::ShardOutOfRange {
            tensor: u(1)?,
            start: u(2)?,
            end: u(3)?,
            tensor_len: u(4)?,
        },
        11 => Error::ShardMisaligned {
            tensor: u(1)?,
            start: u(2)?,
            end: u(3)?,
            unit: u(4)?,
        },
        12 => Error::ShardOverlap {
            tensor: u(1)?,
            offset: u(2)?,
        },
        13 => Error::ShardGap {
            tensor: u(1)?,
            offset: u(2)?,
        },
        14 => Error::LayoutMismatch { part: u(1)? },
        15 => Error::MalformedPartial,
        16 => Error::InvalidParts { parts: u(1)? },
        17 => Error::CallMismatch { part: u(1)? },
        18 => Error::RankPanicked { part: u(1)? },
        _ => return None,
    })
}
