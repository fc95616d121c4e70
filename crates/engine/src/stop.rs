//! Stop strings: text is held back while it could still be the start of a stop string, and cut
//! where one appears, so a client never sees any part of it.

#[derive(Debug, Clone, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

impl StopMatcher {
    pub fn new(stops: Vec<String>) -> Self {
        Self { stops: stops.into_iter().filter(|s| !s.is_empty()).collect(), held: String::new() }
    }

    /// Feed new text; returns (text safe to emit, whether a stop string was hit).
    pub fn push(&mut self, text: &str) -> (String, bool) {
        if self.stops.is_empty() {
            return (text.to_string(), false);
        }
        self.held.push_str(text);
        if let Some(i) = self.stops.iter().filter_map(|s| self.held.find(s.as_str())).min() {
            let out = self.held[..i].to_string();
            self.held.clear();
            return (out, true);
        }
        // Hold back the longest suffix that is a prefix of some stop string.
        let keep = self
            .stops
            .iter()
            .map(|s| {
                (1..s.len().min(self.held.len() + 1))
                    .rev()
                    .find(|&n| {
                        self.held.is_char_boundary(self.held.len() - n)
                            && s.starts_with(&self.held[self.held.len() - n..])
                    })
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0);
        let cut = self.held.len() - keep;
        let out = self.held[..cut].to_string();
        self.held.drain(..cut);
        (out, false)
    }

    /// End of generation: release what was held.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_stop_across_pieces() {
        let mut m = StopMatcher::new(vec!["\nUser:".into()]);
        let mut out = String::new();
        let mut hit = false;
        for p in ["The answer", " is 5.\nUs", "er: more"] {
            let (t, h) = m.push(p);
            out.push_str(&t);
            hit |= h;
            if h {
                break;
            }
        }
        assert!(hit);
        assert_eq!(out, "The answer is 5.");
    }

    #[test]
    fn releases_false_alarm() {
        let mut m = StopMatcher::new(vec!["STOP".into()]);
        let (a, _) = m.push("ST");
        assert_eq!(a, "");
        let (b, _) = m.push("AR");
        assert_eq!(b, "STAR");
    }
}
