//! Training data: songs (token ids, each ending with `/`) laid into parallel streams for
//! truncated back-propagation through time. Every stream starts at a song boundary with a
//! `/` input; songs go to the stream that is shortest so far; streams are padded to one
//! length with targets of -1. Windows are cut from the streams in time order, so the state
//! carried from window to window is the state of the same songs.

/// Songs laid out as `streams` parallel sequences, time-major (row `t·streams + b`).
#[derive(Debug, Clone, PartialEq)]
pub struct Streams {
    pub inputs: Vec<u32>,
    pub targets: Vec<i32>,
    /// Steps in every stream.
    pub steps: usize,
    pub streams: usize,
}

impl Streams {
    /// Lay `songs` (in the given order) into at most `streams` streams.
    pub fn new(songs: &[&[u32]], streams: usize, song_end: u32) -> Streams {
        let streams = streams.clamp(1, songs.len().max(1));
        let mut lanes: Vec<Vec<u32>> = vec![vec![song_end]; streams];
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
                targets[t * streams + b] = lane[t + 1] as i32;
            }
        }
        Streams { inputs, targets, steps, streams }
    }

    /// The windows of at most `window` steps: (first step, steps).
    pub fn windows(&self, window: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.steps).step_by(window.max(1)).map(move |t| (t, window.max(1).min(self.steps - t)))
    }

    /// Inputs and targets of the window starting at step `t` with `steps` steps.
    pub fn window(&self, t: usize, steps: usize) -> (&[u32], &[i32]) {
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
}
