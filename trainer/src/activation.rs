//! The elementwise functions of training — exp, sigmoid, tanh — over whole slices, run on
//! the training thread (and rayon's). libm's `tanhf` and `expf` are scalar calls: in the
//! LSTM cells they took a third of training time. These are branch-free polynomials
//! (Cephes' `expf`: range reduction to `r` in [-ln2/2, ln2/2], a degree-6 polynomial, the
//! power of two built in the exponent bits) that the compiler vectorises; the widest
//! instructions the processor has (AVX-512, else AVX2 with FMA) are chosen at run time.
//! Absolute error against libm: below 2e-7 for sigmoid and tanh, 2 ulp relative for exp.

/// `e^x`, clamped to the finite range of f32 (no infinities, no NaN for finite `x`).
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that `n·LN2_HI` is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2^23: adding it rounds to an integer, which then sits in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let pow2 = f32::from_bits(((shifted.to_bits() as i32 - ROUND.to_bits() as i32 + 127) << 23) as u32);
    y * pow2
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
fn tanh(x: f32) -> f32 {
    2.0 / (1.0 + exp(-2.0 * x)) - 1.0
}

#[cfg(test)]
thread_local! {
    /// The widest instructions [`dispatch`] may choose on this thread: 2 AVX-512, 1 AVX2
    /// with FMA, 0 none. The tests lower it to check every path this processor has.
    static WIDEST: std::cell::Cell<u8> = const { std::cell::Cell::new(2) };
}

#[inline(always)]
fn may_use(level: u8) -> bool {
    #[cfg(test)]
    return WIDEST.with(|w| w.get() >= level);
    #[cfg(not(test))]
    return {
        let _ = level;
        true
    };
}

/// Runs `$body` (a block using only the functions above) compiled for the widest vector
/// instructions the processor has. The bodies are plain indexed loops with no `mul_add`:
/// an iterator adapter that the compiler chose not to inline would be compiled without the
/// target features, and `mul_add` there is a call to a software `fmaf`.
macro_rules! dispatch {
    ($(#[$doc:meta])* $name:ident ( $($arg:ident : $ty:ty),* ) $body:block) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn generic($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) { generic($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) { generic($($arg),*) }
                if may_use(2) && std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the processor has AVX-512F (checked just above), and AVX2 and
                    // FMA with it.
                    return unsafe { avx512($($arg),*) };
                }
                if may_use(1) && std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the processor has AVX2 and FMA (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            generic($($arg),*)
        }
    };
}

dispatch!(
    /// `x ← 1 / (1 + e^−x)` (for the tests: the cells call `sigmoid` inline).
    #[cfg(test)]
    sigmoid_in_place(x: &mut [f32]) {
    for v in x {
        *v = sigmoid(*v);
    }
});

dispatch!(
    /// `x ← tanh x` (for the tests: the cells call `tanh` inline).
    #[cfg(test)]
    tanh_in_place(x: &mut [f32]) {
    for v in x {
        *v = tanh(*v);
    }
});

dispatch!(
    /// `x ← e^x`.
    exp_in_place(x: &mut [f32]) {
    for v in x {
        *v = exp(*v);
    }
});

dispatch!(
    /// One stream's LSTM cells for one step. `gates` holds the pre-activation gates (blocks
    /// i, f, g, o of `h` each) and gets the activated ones; the new cell state, its tanh and
    /// the new hidden state are written out.
    lstm_cells(gates: &mut [f32], c_prev: &[f32], c_next: &mut [f32], tanh_c: &mut [f32], h_next: &mut [f32]) {
    let h = c_prev.len();
    assert!(gates.len() == 4 * h && c_next.len() == h && tanh_c.len() == h && h_next.len() == h);
    for j in 0..h {
        let i = sigmoid(gates[j]);
        let f = sigmoid(gates[h + j]);
        let g = tanh(gates[2 * h + j]);
        let o = sigmoid(gates[3 * h + j]);
        gates[j] = i;
        gates[h + j] = f;
        gates[2 * h + j] = g;
        gates[3 * h + j] = o;
        let c = f * c_prev[j] + i * g;
        let t = tanh(c);
        c_next[j] = c;
        tanh_c[j] = t;
        h_next[j] = o * t;
    }
});

dispatch!(
    /// The backward pass of [`lstm_cells`] for one stream and step: from the activated
    /// `gates`, the previous cell state and the tanh of the new one, and the gradients
    /// reaching the new hidden state (from above and from the next step) and the new cell
    /// state, the gradients of the pre-activation gates; `d_c` becomes that of the previous
    /// cell state.
    lstm_cells_backward(gates: &[f32], c_prev: &[f32], tanh_c: &[f32], d_h_above: &[f32], d_h_next: &[f32], d_c: &mut [f32], d_gates: &mut [f32]) {
        let h = c_prev.len();
        assert!(gates.len() == 4 * h && d_gates.len() == 4 * h && tanh_c.len() == h);
        assert!(d_h_above.len() == h && d_h_next.len() == h && d_c.len() == h);
        for j in 0..h {
            let (i, f, g, o) = (gates[j], gates[h + j], gates[2 * h + j], gates[3 * h + j]);
            let dh = d_h_above[j] + d_h_next[j];
            let tc = tanh_c[j];
            let dc = dh * o * (1.0 - tc * tc) + d_c[j];
            d_gates[j] = dc * g * i * (1.0 - i);
            d_gates[h + j] = dc * c_prev[j] * f * (1.0 - f);
            d_gates[2 * h + j] = dc * i * (1.0 - g * g);
            d_gates[3 * h + j] = dh * tc * o * (1.0 - o);
            d_c[j] = dc * f;
        }
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `check` with each instruction set this processor has, widest last.
    fn each_path(mut check: impl FnMut()) {
        for level in 0..=2 {
            WIDEST.with(|w| w.set(level));
            check();
        }
    }

    fn inputs() -> Vec<f32> {
        let mut x: Vec<f32> = (-20_000..=20_000).map(|i| i as f32 / 1000.0).collect();
        x.extend([-200.0, -90.0, -87.5, 88.5, 90.0, 200.0, 1e-8, -1e-8, 0.0]);
        x
    }

    #[test]
    fn exp_is_within_two_ulp_of_libm_on_the_finite_range() {
        each_path(|| {
            let mut x: Vec<f32> = (-86_000..=87_000).map(|i| i as f32 / 1000.0).collect();
            let want: Vec<f32> = x.iter().map(|v| v.exp()).collect();
            exp_in_place(&mut x);
            for (got, want) in x.iter().zip(&want) {
                assert!(((got - want) / want).abs() < 2.5e-7, "{got} vs {want}");
            }
        });
    }

    #[test]
    fn sigmoid_and_tanh_are_within_2e7_of_libm_and_saturate_cleanly() {
        each_path(|| {
            let x = inputs();
            let (mut s, mut t) = (x.clone(), x.clone());
            sigmoid_in_place(&mut s);
            tanh_in_place(&mut t);
            for ((&v, s), t) in x.iter().zip(&s).zip(&t) {
                let want_s = 1.0 / (1.0 + (-v as f64).exp());
                assert!((*s as f64 - want_s).abs() < 2e-7, "sigmoid({v}) = {s}, want {want_s}");
                assert!((*t as f64 - (v as f64).tanh()).abs() < 2e-7, "tanh({v}) = {t}");
                assert!(s.is_finite() && t.is_finite() && (0.0..=1.0).contains(s) && (-1.0..=1.0).contains(t));
            }
        });
    }

    #[test]
    fn cells_match_the_textbook_lstm_cell_forward_and_backward() {
        let h = 37;
        let raw: Vec<f32> = (0..4 * h).map(|k| ((k * 7919) % 200) as f32 / 20.0 - 5.0).collect();
        let c_prev: Vec<f32> = (0..h).map(|k| (k as f32 - 18.0) / 6.0).collect();
        let d_h_above: Vec<f32> = (0..h).map(|k| ((k * 31) % 17) as f32 / 9.0 - 0.9).collect();
        let d_h_next: Vec<f32> = (0..h).map(|k| ((k * 13) % 11) as f32 / 7.0 - 0.7).collect();
        let d_c_in: Vec<f32> = (0..h).map(|k| ((k * 5) % 7) as f32 / 5.0 - 0.6).collect();
        let sig = |v: f32| 1.0 / (1.0 + (-v).exp());
        each_path(|| {
            let mut gates = raw.clone();
            let (mut c, mut tc, mut hn) = (vec![0.0; h], vec![0.0; h], vec![0.0; h]);
            lstm_cells(&mut gates, &c_prev, &mut c, &mut tc, &mut hn);
            let (mut d_c, mut d_gates) = (d_c_in.clone(), vec![0.0; 4 * h]);
            lstm_cells_backward(&gates, &c_prev, &tc, &d_h_above, &d_h_next, &mut d_c, &mut d_gates);
            for j in 0..h {
                let (i, f, g, o) = (sig(raw[j]), sig(raw[h + j]), raw[2 * h + j].tanh(), sig(raw[3 * h + j]));
                let want_c = f * c_prev[j] + i * g;
                let t = want_c.tanh();
                assert!((c[j] - want_c).abs() < 1e-6 && (tc[j] - t).abs() < 1e-6 && (hn[j] - o * t).abs() < 1e-6);
                assert!(
                    (gates[j] - i).abs() < 1e-6
                        && (gates[2 * h + j] - g).abs() < 1e-6
                        && (gates[3 * h + j] - o).abs() < 1e-6
                );
                // d loss / d c through h = o·tanh(c), plus what reaches c from the next step.
                let dh = d_h_above[j] + d_h_next[j];
                let dc = dh * o * (1.0 - t * t) + d_c_in[j];
                let want = [
                    dc * g * i * (1.0 - i),
                    dc * c_prev[j] * f * (1.0 - f),
                    dc * i * (1.0 - g * g),
                    dh * t * o * (1.0 - o),
                ];
                for (k, w) in want.iter().enumerate() {
                    assert!((d_gates[k * h + j] - w).abs() < 1e-5, "gate {k} unit {j}: {} vs {w}", d_gates[k * h + j]);
                }
                assert!((d_c[j] - dc * f).abs() < 1e-5);
            }
        });
    }
}
