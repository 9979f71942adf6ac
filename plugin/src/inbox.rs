//! The commands the inference worker has read from the link and not yet done, on the
//! worker's thread: the answering loop does the memory's (forget, keep, learn) between
//! steps, the idle worker the recent takes' (choose, answer again) between answers.

use crate::link::{Command, Link};

/// Commands read and waiting: a flag for each, and the places to move the chosen take by.
#[derive(Debug, Default)]
pub struct Inbox {
    pub forget: bool,
    pub keep: bool,
    pub learn: bool,
    pub regenerate: bool,
    /// The most answers asked for at once (Answer ×4), 0: none.
    pub variations: u8,
    pub choose: i32,
}

impl Inbox {
    /// Read every command sent since the last look.
    pub fn read(&mut self, link: &Link) {
        while let Some(command) = link.commands.pop() {
            match command {
                Command::Forget => self.forget = true,
                Command::Keep => self.keep = true,
                Command::Learn => self.learn = true,
                Command::Regenerate => self.regenerate = true,
                Command::Variations(n) => self.variations = self.variations.max(n),
                Command::Choose(by) => self.choose = self.choose.saturating_add(by),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_wait_in_the_inbox_until_done() {
        let link = Link::new();
        for c in [Command::Keep, Command::Choose(-1), Command::Choose(-1), Command::Forget] {
            assert!(link.send(c));
        }
        let mut inbox = Inbox::default();
        inbox.read(&link);
        assert!(inbox.keep && inbox.forget && !inbox.learn && !inbox.regenerate);
        assert_eq!(inbox.choose, -2);
        assert!(link.commands.is_empty());
    }
}
