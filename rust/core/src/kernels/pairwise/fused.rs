//! Distance sums through the fused AVX2 microkernel ([`super::avx2`]) for short dense rows.

use super::avx2 as kernel;
use super::tiles::{DenseDots, Distances, COLUMN_BLOCK};
use crate::kernels::avx2::available;
use crate::kernels::points::Points;
use crate::kernels::scalar::Scalar;

/// Dense rows of at most this many features take the fused kernel (where the CPU has it); longer
/// rows, whose dot products are most of the work, take GEMM tiles. (At 64 features the fused
/// kernel was still about 15% faster on one thread, 6,000 rows, k = 8.)
pub(crate) const FUSED_MAX_D: usize = 64;

/// [`Distances`] through the fused AVX2 microkernel ([`kernel`]): dense rows, centred as
/// [`DenseDots`] centres them, and copied once in the order of their positions (float64), so
/// that packing a block of rows or columns reads memory in order. Gathering them from the
/// data instead (rows of one cluster are scattered through it) took about a tenth of the time.
pub(crate) struct Fused<'a, F> {
    dots: DenseDots<'a, F>,
    /// The centred rows, n × d, row p being the row at position p.
    sorted: Vec<f64>,
}

/// The packed block of rows and panels of columns, and the kernel's sums.
pub(crate) struct Scratch {
    rows: Vec<f64>,
    row_norms: Vec<f64>,
    row_positions: Vec<f64>,
    row_sums: Vec<f64>,
    panels: Vec<f64>,
    col_norms: Vec<f64>,
    col_positions: Vec<f64>,
    masked: Vec<bool>,
    col_sums: Vec<f64>,
}

impl<'a, F: Scalar> Fused<'a, F> {
    /// The fused kernel for `x`, its rows at the positions `order` gives them (`order[p]` is
    /// the row at position p), when this CPU runs it and the rows are short enough.
    pub(crate) fn new(x: Points<'a, F>, order: &[u32]) -> Option<Self> {
        if x.d() > FUSED_MAX_D || !available() {
            return None;
        }
        let dots = DenseDots::new(x);
        let sorted = dots.centred_in_order(order);
        Some(Self { dots, sorted })
    }
}

impl<F: Scalar> Distances for Fused<'_, F> {
    type Scratch = Scratch;
    fn n(&self) -> usize {
        self.dots.x.n()
    }
    fn scratch(&self) -> Scratch {
        let panels = COLUMN_BLOCK.div_ceil(kernel::PANEL);
        Scratch {
            rows: Vec::new(),
            row_norms: Vec::new(),
            row_positions: Vec::new(),
            row_sums: Vec::new(),
            panels: vec![0.0; panels * kernel::PANEL * self.dots.x.d()],
            col_norms: vec![0.0; panels * kernel::PANEL],
            col_positions: vec![0.0; panels * kernel::PANEL],
            masked: Vec::new(),
            col_sums: vec![0.0; panels * kernel::PANEL],
        }
    }
    fn load_rows(&self, s: &mut Scratch, rows: &[u32], positions: &[u32]) {
        let d = self.dots.x.d();
        s.rows.clear();
        positions.iter().for_each(|&p| s.rows.extend_from_slice(&self.sorted[p as usize * d..(p as usize + 1) * d]));
        s.row_norms.clear();
        s.row_norms.extend(rows.iter().map(|&i| self.dots.norms[i as usize]));
        s.row_positions.clear();
        s.row_positions.extend(positions.iter().map(|&p| f64::from(p)));
    }
    fn add_sums(
        &self,
        s: &mut Scratch,
        cols: &[u32],
        start: usize,
        row_sums: &mut [f64],
        col_sums: Option<&mut [f64]>,
    ) {
        assert!(cols.len() <= COLUMN_BLOCK, "at most COLUMN_BLOCK columns");
        let (d, width) = (self.dots.x.d(), kernel::PANEL);
        let panels = cols.len().div_ceil(width);
        // Feature-major panels; padding columns are zeros at position NaN, which the kernel
        // counts 0.
        for (panel, (data, members)) in s.panels.chunks_exact_mut(d * width).zip(cols.chunks(width)).enumerate() {
            let first = start + panel * width;
            let rows = self.sorted[first * d..(first + members.len()) * d].chunks_exact(d);
            for (lane, (row, &c)) in rows.zip(members).enumerate() {
                for (p, &v) in row.iter().enumerate() {
                    data[p * width + lane] = v;
                }
                s.col_norms[panel * width + lane] = self.dots.norms[c as usize];
                s.col_positions[panel * width + lane] = (first + lane) as f64;
            }
            for lane in members.len()..width {
                (0..d).for_each(|p| data[p * width + lane] = 0.0);
                s.col_norms[panel * width + lane] = 0.0;
                s.col_positions[panel * width + lane] = f64::NAN;
            }
        }
        s.masked.clear();
        s.masked.resize(panels, false);
        if !cols.len().is_multiple_of(width) {
            s.masked[panels - 1] = true;
        }
        for &p in &s.row_positions {
            let j = p as usize;
            if (start..start + cols.len()).contains(&j) {
                s.masked[(j - start) / width] = true;
            }
        }
        let m = s.row_norms.len();
        s.row_sums.clear();
        s.row_sums.resize(m * kernel::ROW_LANES, 0.0);
        let block = kernel::Block {
            rows: &s.rows,
            row_norms: &s.row_norms,
            row_positions: &s.row_positions,
            panels: &s.panels,
            col_norms: &s.col_norms,
            col_positions: &s.col_positions,
            masked: &s.masked,
            d,
        };
        // SAFETY: `new` checked that the CPU has AVX2 and FMA.
        unsafe { kernel::distance_sums(&block, &mut s.row_sums, &mut s.col_sums) };
        for (total, lanes) in row_sums.iter_mut().zip(s.row_sums.chunks_exact(kernel::ROW_LANES)) {
            *total += (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
        }
        if let Some(col_sums) = col_sums {
            col_sums.iter_mut().zip(&s.col_sums[..cols.len()]).for_each(|(total, v)| *total += v);
        }
    }
}
