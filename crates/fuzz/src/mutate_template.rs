//! Mutations of a Jinja chat template: the constructs that make a render loop, recurse or grow
//! (nested `range` loops, string and list doubling, `replace` that grows, recursive macros and
//! loops, deep filter chains, deep nesting) spliced in at tag boundaries, tags cut or
//! duplicated, plus byte havoc for broken syntax.

use crate::mutate_bytes::havoc;
use crate::rng::Rng;

/// Hostile snippets; each one alone is a complete statement or expression.
const SNIPPETS: [&str; 24] = [
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "{% set s = 'ab' %}{% for i in range(64) %}{% set s = s ~ s %}{% endfor %}{{ s|length }}",
    "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "{% set l = [1, 2] %}{% for i in range(64) %}{% set l = l + l %}{% endfor %}{{ l|length }}",
    "{% set s = 'a' %}{% for i in range(64) %}{% set s = s|replace('a', 'aa') %}{% endfor %}",
    "{% set s = 'a' %}{% for i in range(64) %}{% set s = (s ~ s)|string %}{% endfor %}",
    "{% set s = 'a' * 99999999 %}{{ s * 99 }}",
    "{% set l = [0] * 99999999 %}{{ (l * 99)|length }}",
    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "{% macro f(n) %}{{ f(n) ~ f(n) }}{% endmacro %}{{ f(0) }}",
    "{% for m in messages recursive %}{{ loop(messages) }}{% endfor %}",
    "{% include 'chat' %}",
    "{{ messages|tojson|tojson|tojson|tojson|tojson|tojson|tojson|tojson }}",
    "{% set x = [] %}{% for i in range(30) %}{% set x = [x, x] %}{% endfor %}{{ x|tojson }}",
    "{{ range(100000)|list|tojson }}",
    "{{ messages[0]['content'] * 100000000 }}",
    "{{ ((((((((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))))))) }}",
    "{% set s = 'x' %}{% for i in range(100) %}{% set s = s|center(999999) %}{% endfor %}",
    "{% set s = 'x' %}{% for i in range(100) %}{% set s = s|indent(9999, true) %}{% endfor %}",
    "{% set s = 'x' %}{% for i in range(40) %}{% set s = '%s%s'|format(s, s) %}{% endfor %}",
    "{% set s = 'x' %}{% for i in range(40) %}{% set s = [s, s]|join %}{% endfor %}",
    "{% set d = {} %}{% for i in range(40) %}{% set d = {'a': d, 'b': d} %}{% endfor %}{{ d|tojson }}",
    "{% filter upper %}{% for i in range(100000) %}{{ messages|tojson }}{% endfor %}{% endfilter %}",
    "{{ raise_exception(messages|string) }}",
];

/// Byte offsets where a tag or expression starts: splicing there keeps the rest parseable.
fn tag_starts(text: &[u8]) -> Vec<usize> {
    let mut at: Vec<usize> = text.windows(2).enumerate().filter(|(_, w)| w[0] == b'{').map(|(i, _)| i).collect();
    at.push(0);
    at.push(text.len());
    at
}

pub fn mutate(rng: &mut Rng, text: &mut Vec<u8>, other: &[u8]) {
    match rng.below(6) {
        0..=2 => {
            let starts = tag_starts(text);
            let at = *rng.pick(&starts);
            let mut snippet = rng.pick(&SNIPPETS).as_bytes().to_vec();
            if rng.chance(4) {
                // A deeper or longer version: the nesting doubled.
                let copy = snippet.clone();
                snippet.extend_from_slice(&copy);
            }
            text.splice(at..at, snippet);
        }
        3 => {
            // Cut or duplicate the text between two tag starts (unbalanced blocks).
            let starts = tag_starts(text);
            let (a, b) = (*rng.pick(&starts), *rng.pick(&starts));
            let (a, b) = (a.min(b), a.max(b));
            if rng.chance(2) {
                text.drain(a..b);
            } else {
                let chunk = text[a..b].to_vec();
                text.splice(b..b, chunk);
            }
        }
        _ => havoc(rng, text, other),
    }
}
