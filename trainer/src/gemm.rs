//! Matrix products for training: a safe wrapper over the `gemm` crate (the kernels candle
//! uses), row-major slices with transpose flags. Runs on the training thread, spread over
//! all cores with rayon when the product is large enough to pay for it.

use gemm::Parallelism;

/// `c[m×n] = a · b` (or `c += a · b` when `accumulate`), where `a` is m×k and `b` is k×n.
/// Each operand is a row-major slice; with `ta` (`tb`) the slice holds the k×m (n×k)
/// matrix whose transpose is used.
#[allow(clippy::too_many_arguments)]
pub fn matmul(c: &mut [f32], a: &[f32], ta: bool, b: &[f32], tb: bool, m: usize, k: usize, n: usize, accumulate: bool) {
    product(c, a, ta, b, tb, m, k, n, accumulate, m * n * k >= 1 << 18);
}

/// As [`matmul`], on the calling thread only: for callers that spread their own work over
/// the cores.
#[allow(clippy::too_many_arguments)]
pub fn matmul_serial(
    c: &mut [f32],
    a: &[f32],
    ta: bool,
    b: &[f32],
    tb: bool,
    m: usize,
    k: usize,
    n: usize,
    accumulate: bool,
) {
    product(c, a, ta, b, tb, m, k, n, accumulate, false);
}

#[allow(clippy::too_many_arguments)]
fn product(
    c: &mut [f32],
    a: &[f32],
    ta: bool,
    b: &[f32],
    tb: bool,
    m: usize,
    k: usize,
    n: usize,
    accumulate: bool,
    parallel: bool,
) {
    assert_eq!(c.len(), m * n, "c");
    assert_eq!(a.len(), m * k, "a");
    assert_eq!(b.len(), k * n, "b");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return;
    }
    let (a_rs, a_cs) = if ta { (1, m as isize) } else { (k as isize, 1) };
    let (b_rs, b_cs) = if tb { (1, k as isize) } else { (n as isize, 1) };
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
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
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
                    let mut c = vec![1.0; m * n];
                    matmul(&mut c, &a, ta, &b, tb, m, k, n, true);
                    for (x, y) in c.iter().zip(&want) {
                        assert!((x - (y + 1.0)).abs() < 1e-3, "{m}x{k}x{n} {ta} {tb}");
                    }
                    matmul(&mut c, &a, ta, &b, tb, m, k, n, false);
                    for (x, y) in c.iter().zip(&want) {
                        assert!((x - y).abs() < 1e-3);
                    }
                }
            }
        }
    }
}
