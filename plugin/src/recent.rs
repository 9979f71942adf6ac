//! The recent takes: the last `RECENT_TAKES` answers, each with what made it (the request:
//! the phrase, where it started, its length and random seed; the sampling settings) so that
//! it can be answered again, and which one is chosen: the one loop mode plays, the editor
//! shows and Export writes. Plain data, kept by the worker's `Shared` (the worker writes it,
//! the editor reads it); never touched by the audio thread.

use crate::history::History;
use crate::link::Request;
use continuo_core::sampler::SamplerSettings;
use std::collections::VecDeque;

/// Answers kept.
pub const RECENT_TAKES: usize = 16;

/// One answer and what made it.
#[derive(Debug, Clone)]
pub struct RecentTake {
    /// Counted from 1 since the plugin was loaded.
    pub number: u32,
    pub request: Request,
    pub settings: SamplerSettings,
    /// The phrase and the answer as played (tempo, velocity, octave, model).
    pub history: History,
}

#[derive(Debug, Default)]
pub struct RecentTakes {
    takes: VecDeque<RecentTake>,
    chosen: usize,
    numbered: u32,
}

impl RecentTakes {
    /// Keep a new answer; it becomes the chosen one. The oldest goes past `RECENT_TAKES`.
    pub fn add(&mut self, request: Request, settings: SamplerSettings, history: History) -> &RecentTake {
        if self.takes.len() == RECENT_TAKES {
            self.takes.pop_front();
        }
        self.numbered += 1;
        self.takes.push_back(RecentTake { number: self.numbered, request, settings, history });
        self.chosen = self.takes.len() - 1;
        &self.takes[self.chosen]
    }

    pub fn chosen(&self) -> Option<&RecentTake> {
        self.takes.get(self.chosen)
    }

    /// Choose the take `by` places later (earlier if negative), stopping at the first and
    /// the last.
    pub fn choose(&mut self, by: i32) -> Option<&RecentTake> {
        let last = self.takes.len().checked_sub(1)?;
        self.chosen = (self.chosen as i64 + by as i64).clamp(0, last as i64) as usize;
        self.chosen()
    }

    /// The chosen take's place (from 1) and how many there are.
    pub fn position(&self) -> Option<(usize, usize)> {
        (!self.takes.is_empty()).then(|| (self.chosen + 1, self.takes.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Phrase;

    fn request(seed: u64) -> Request {
        Request {
            generation: 0,
            phrase: Phrase::default(),
            start_step: 0,
            steps: 4,
            continuous: false,
            bar_steps: 16,
            bar_position: 0,
            seed,
            follow_key: true,
        }
    }

    #[test]
    fn the_newest_is_chosen_the_oldest_goes_and_choosing_stops_at_the_ends() {
        let mut recent = RecentTakes::default();
        assert!(recent.chosen().is_none() && recent.choose(1).is_none() && recent.position().is_none());
        for seed in 0..20 {
            let number = recent.add(request(seed), SamplerSettings::default(), History::default()).number;
            assert_eq!(number, seed as u32 + 1);
        }
        assert_eq!(recent.position(), Some((16, 16)));
        assert_eq!(recent.chosen().unwrap().request.seed, 19);
        assert_eq!(recent.choose(-3).unwrap().number, 17);
        assert_eq!(recent.choose(-100).unwrap().number, 5, "takes 1 to 4 are gone");
        assert_eq!(recent.choose(100).unwrap().number, 20);
        assert_eq!(recent.position(), Some((16, 16)));
    }
}
