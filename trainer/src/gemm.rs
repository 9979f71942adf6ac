//! Matrix products for training: a safe wrapper over the `gemm` crate (the kernels candle
//! uses) over row-major slices, each operand a [`Mat`] (as stored, or its transpose). Runs on
//! the training thread, spread over all cores with rayon when the product is large enough.

use gemm::Parallelism;

/// One operand of a product: the `rows × cols` matrix it stands for, and how its slice holds
/// it (row-major as it is, or row-major as its transpose).
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    transposed: bool,
}

impl<'a> Mat<'a> {
    /// `data` holds the `rows × cols` matrix, row-major.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Mat<'a> {
        Mat { data, rows, cols, transposed: false }
    }

    /// The `rows × cols` transpose of the `cols × rows` row-major matrix in `data`.
    pub fn transpose_of(data: &'a [f32], rows: usize, cols: usize) -> Mat<'a> {
        Mat { data, rows, cols, transposed: true }
    }

    /// (row stride, column stride) of the matrix this operand stands for.
    fn strides(&self) -> (isize, isize) {
        if self.transposed {
            (1, self.rows as isize)
        } else {
            (self.cols as isize, 1)
        }
    }
}

/// Whether a product replaces the output or adds to it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Replace,
    Add,
}

/// `c = a · b` (or `c += a · b`), `c` row-major `a.rows × b.cols`, spread over all cores when
/// the product is large enough to pay for it.
pub fn matmul(c: &mut [f32], a: Mat, b: Mat, write: Write) {
    let parallel = a.rows * a.cols * b.cols >= 1 << 18;
    product(c, a, b, write, parallel);
}

/// As [`matmul`], on the calling thread only: for callers that spread their own work over
/// the cores.
pub fn matmul_serial(c: &mut [f32], a: Mat, b: Mat, write: Write) {
    product(c, a, b, write, false);
}

fn product(c: &mut [f32], a: Mat, b: Mat, write: Write, parallel: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "inner dimensions");
    assert_eq!(c.len(), m * n, "c");
    assert_eq!(a.data.len(), m * k, "a");
    assert_eq!(b.data.len(), k * n, "b");
    let accumulate = write == Write::Add;
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return;
    }
    let ((a_rs, a_cs), (b_rs, b_cs)) = (a.strides(), b.strides());
    let parallelism = if parallel { Parallelism::Rayon(rayon::current_num_threads()) } else { Parallelism::None };
    // SAFETY: the lengths are checked above, so every index the strides reach is in bounds;
    // `c` does not alias `a` or `b` (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], ta: bool, b: &[f32], tb: bool, m: usize, k: usize, n: usize) -> Vec<f32> {
        let at = |i: usize, j: usize| if ta { a[j * m + i] } else { a[i * k + j] };
        let bt = |i: usize, j: usize| if tb { b[j * k + i] } else { b[i * n + j] };
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
            }
        }
        c
    }

    #[test]
    fn all_transpose_combinations_match_the_naive_product() {
        for (m, k, n) in [(3, 4, 5), (1, 7, 2), (70, 65, 90)] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 11) as f32 - 5.0) / 7.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 53 % 13) as f32 - 6.0) / 5.0).collect();
            for ta in [false, true] {
                for tb in [false, true] {
                    let want = naive(&a, ta, &b, tb, m, k, n);
                    let operand = |data, rows, cols, t| {
                        if t {
                            Mat::transpose_of(data, rows, cols)
                        } else {
                            Mat::new(data, rows, cols)
                        }
                    };
                    let (ma, mb) = (operand(&a[..], m, k, ta), operand(&b[..], k, n, tb));
                    let mut c = vec![1.0; m * n];
                    matmul(&mut c, ma, mb, Write::Add);
                    for (x, y) in c.iter().zip(&want) {
                        assert!((x - (y + 1.0)).abs() < 1e-3, "{m}x{k}x{n} {ta} {tb}");
                    }
                    matmul(&mut c, ma, mb, Write::Replace);
                    for (x, y) in c.iter().zip(&want) {
                        assert!((x - y).abs() < 1e-3);
                    }
                }
            }
        }
    }
}
