//! Training data: songs (input codes, [`crate::codes`], each ending with `/`) laid into parallel streams for
//! truncated back-propagation through time. Every stream starts at a song boundary with a
//! `/` input; songs go to the stream that is shortest so far; streams are padded to one
//! length with targets of -1. Windows are cut from the streams in time order, so the state
//! carried from window to window is the state of the same songs. Or, for training from a
//! zero state, windows cut from all songs in a row and shuffled ([`Streams::random_windows`]).

use crate::codes::{self, Code};
use rand_core::Rng;

/// Songs laid out as `streams` parallel sequences, time-major (row `t·streams + b`).
#[derive(Debug, Clone, PartialEq)]
pub struct Streams {
    pub inputs: Vec<Code>,
    pub targets: Vec<i32>,
    /// Steps in every stream.
    pub steps: usize,
    pub streams: usize,
}

impl Streams {
    /// Lay `songs` (in the given order) into at most `streams` streams.
    pub fn new(songs: &[&[Code]], streams: usize, song_end: u32) -> Streams {
        let song_end = song_end as Code;
        let streams = streams.clamp(1, songs.len().max(1));
        let mut lanes: Vec<Vec<Code>> = vec![vec![song_end]; streams];
        for song in songs {
            let shortest = (0..streams).min_by_key(|&b| lanes[b].len()).expect("at least one stream");
            lanes[shortest].extend_from_slice(song);
        }
        let steps = lanes.iter().map(|l| l.len() - 1).max().unwrap_or(0);
        let mut inputs = vec![song_end; steps * streams];
        let mut targets = vec![-1i32; steps * streams];
        for (b, lane) in lanes.iter().enumerate() {
            for t in 0..lane.len() - 1 {
                inputs[t * streams + b] = lane[t];
                targets[t * streams + b] = codes::token(lane[t + 1]) as i32;
            }
        }
        Streams { inputs, targets, steps, streams }
    }

    /// The songs in a row (`/` first), cut into windows of `window` steps from a random
    /// offset below `window`, shuffled, and laid `batch` windows to a [`Streams`] of one
    /// window each.
    pub fn random_windows(
        songs: &[&[Code]],
        window: usize,
        batch: usize,
        song_end: u32,
        rng: &mut impl Rng,
    ) -> Vec<Streams> {
        let window = window.max(1);
        let row: Vec<Code> =
            std::iter::once(song_end as Code).chain(songs.iter().flat_map(|s| s.iter().copied())).collect();
        let offset = (rng.next_u64() % window as u64) as usize;
        let mut starts: Vec<usize> = (offset..row.len().saturating_sub(1)).step_by(window).collect();
        for i in (1..starts.len()).rev() {
            starts.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        starts.chunks(batch.max(1)).map(|chunk| Streams::cut(&row, chunk, window)).collect()
    }

    /// One window of `steps` steps from each start in `row`, as parallel streams.
    fn cut(row: &[Code], starts: &[usize], steps: usize) -> Streams {
        let streams = starts.len();
        let mut inputs = vec![row[0]; steps * streams];
        let mut targets = vec![-1i32; steps * streams];
        for (b, &start) in starts.iter().enumerate() {
            for t in 0..steps.min(row.len() - 1 - start) {
                inputs[t * streams + b] = row[start + t];
                targets[t * streams + b] = codes::token(row[start + t + 1]) as i32;
            }
        }
        Streams { inputs, targets, steps, streams }
    }

    /// The windows of at most `window` steps: (first step, steps).
    pub fn windows(&self, window: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.steps).step_by(window.max(1)).map(move |t| (t, window.max(1).min(self.steps - t)))
    }

    /// Inputs and targets of the window starting at step `t` with `steps` steps.
    pub fn window(&self, t: usize, steps: usize) -> (&[Code], &[i32]) {
        let range = t * self.streams..(t + steps) * self.streams;
        (&self.inputs[range.clone()], &self.targets[range])
    }

    /// Targets that count (not padding).
    pub fn counted(&self) -> usize {
        self.targets.iter().filter(|&&t| t >= 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn songs_are_laid_into_balanced_streams() {
        let (a, b, c) = (vec![5, 6, 0], vec![7, 0], vec![8, 9, 9, 0]);
        let s = Streams::new(&[&a, &b, &c], 2, 0);
        assert_eq!(s.streams, 2);
        // Stream 0: / 5 6 / 8 9 9 /   stream 1: / 7 /   (c goes to the shorter stream 1? no:
        // after a and b, stream 1 is shorter, so c follows b).
        // Stream 0: / 5 6 /, stream 1: / 7 / 8 9 9 /.
        assert_eq!(s.steps, 6);
        let lane = |b: usize| (0..s.steps).map(|t| (s.inputs[t * 2 + b], s.targets[t * 2 + b])).collect::<Vec<_>>();
        assert_eq!(lane(0), vec![(0, 5), (5, 6), (6, 0), (0, -1), (0, -1), (0, -1)]);
        assert_eq!(lane(1), vec![(0, 7), (7, 0), (0, 8), (8, 9), (9, 9), (9, 0)]);
        assert_eq!(s.counted(), 9);
        let w: Vec<_> = s.windows(4).collect();
        assert_eq!(w, vec![(0, 4), (4, 2)]);
        assert_eq!(s.window(4, 2).0, &[0, 9, 0, 9]);
    }

    #[test]
    fn random_windows_cover_every_step_once() {
        use rand_core::SeedableRng;
        let songs: Vec<Vec<Code>> = (1..=7).map(|n| (0..n).map(|k| 10 + k).chain([0]).collect()).collect();
        let refs: Vec<&[Code]> = songs.iter().map(Vec::as_slice).collect();
        let row_len = 1 + songs.iter().map(Vec::len).sum::<usize>();
        for seed in 0..5 {
            let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
            let batches = Streams::random_windows(&refs, 4, 3, 0, &mut rng);
            assert!(batches.iter().all(|b| b.steps == 4 && b.streams <= 3));
            let counted: usize = batches.iter().map(Streams::counted).sum();
            // Every step after the random offset (below 4) is a target exactly once.
            assert!((row_len - 4..row_len).contains(&counted), "{counted} of {row_len}");
            // Each target follows its input as in the row.
            for b in &batches {
                for i in 0..b.inputs.len() {
                    if b.targets[i] >= 0 && b.inputs[i] >= 10 {
                        assert!(b.targets[i] as Code == b.inputs[i] + 1 || b.targets[i] == 0);
                    }
                }
            }
        }
    }
}
