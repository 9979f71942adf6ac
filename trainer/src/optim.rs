//! Adam with global-norm gradient clipping, run on the training thread.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub t: u64,
    /// Decoupled weight decay (AdamW), per unit of learning rate.
    #[serde(default)]
    pub weight_decay: f32,
    #[serde(skip)]
    pub m: Vec<Vec<f32>>,
    #[serde(skip)]
    pub v: Vec<Vec<f32>>,
}

impl Adam {
    pub fn new(lr: f32, shapes: &[usize]) -> Adam {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            t: 0,
            weight_decay: 0.0,
            m: shapes.iter().map(|&n| vec![0.0; n]).collect(),
            v: shapes.iter().map(|&n| vec![0.0; n]).collect(),
        }
    }

    /// One update of every parameter tensor from its gradient.
    pub fn step(&mut self, params: Vec<&mut Vec<f32>>, grads: Vec<&mut Vec<f32>>) {
        self.t += 1;
        let bc1 = 1.0 - self.beta1.powi(self.t.min(i32::MAX as u64) as i32);
        let bc2 = 1.0 - self.beta2.powi(self.t.min(i32::MAX as u64) as i32);
        let step = self.lr * bc2.sqrt() / bc1;
        let keep = 1.0 - self.lr * self.weight_decay;
        for (((p, g), m), v) in params.into_iter().zip(grads).zip(&mut self.m).zip(&mut self.v) {
            for i in 0..p.len() {
                m[i] = self.beta1 * m[i] + (1.0 - self.beta1) * g[i];
                v[i] = self.beta2 * v[i] + (1.0 - self.beta2) * g[i] * g[i];
                p[i] = keep * p[i] - step * m[i] / (v[i].sqrt() + self.eps);
            }
        }
    }
}

/// Scale the gradients so their global L2 norm is at most `max_norm`; returns the norm
/// before clipping. A norm that is not a number scales nothing: the caller stops on it.
pub fn clip_global_norm(grads: &mut [&mut Vec<f32>], max_norm: f32) -> f32 {
    let norm = grads.iter().flat_map(|g| g.iter()).map(|&x| (x as f64) * (x as f64)).sum::<f64>().sqrt() as f32;
    if norm > max_norm && norm > 0.0 {
        let s = max_norm / norm;
        for g in grads.iter_mut() {
            g.iter_mut().for_each(|x| *x *= s);
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_minimises_a_quadratic_and_clipping_bounds_the_norm() {
        let mut x = vec![3.0f32, -2.0];
        let mut adam = Adam::new(0.1, &[2]);
        for _ in 0..500 {
            let mut g = vec![2.0 * x[0], 2.0 * x[1]];
            adam.step(vec![&mut x], vec![&mut g]);
        }
        assert!(x.iter().all(|v| v.abs() < 1e-2), "{x:?}");
        let mut g = vec![3.0f32, 4.0];
        let norm = clip_global_norm(&mut [&mut g], 1.0);
        assert_eq!(norm, 5.0);
        assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
    }
}
