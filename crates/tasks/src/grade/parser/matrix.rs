//! Matrices in answers: `pmatrix`/`bmatrix`/`array` bodies read cell by cell, and sums,
//! differences and products of matrices written out (`A + B`, `A B`), cell by cell as
//! expressions, so `\begin{pmatrix}1&2\end{pmatrix} + …` compares with its result.

use super::{Expr, Node, ParseError, Parser, Tok, err};
use num_rational::BigRational;
use num_traits::Zero;

impl Parser {
    pub(super) fn matrix(&mut self) -> Result<Node, ParseError> {
        let mut rows = vec![Vec::new()];
        loop {
            match self.peek() {
                None => return err("matrix without \\end"),
                Some(Tok::Cmd(c)) if c.starts_with("end:") => {
                    self.pos += 1;
                    break;
                }
                Some(Tok::RowSep) => {
                    self.pos += 1;
                    rows.push(Vec::new());
                }
                Some(Tok::Sym('&')) => self.pos += 1,
                _ => {
                    let cell = self.relation()?;
                    if let Some(row) = rows.last_mut() {
                        row.push(cell);
                    }
                }
            }
        }
        rows.retain(|r| !r.is_empty());
        if rows.is_empty() || rows.iter().any(|r| r.len() != rows[0].len()) {
            return err("ragged matrix");
        }
        Ok(Node::Matrix(rows))
    }

    /// `A + B`, `A - B`, `A B`, `A \cdot B` for matrices written out: the result's cells.
    pub(super) fn matrix_arithmetic(&mut self, mut acc: Node) -> Result<Node, ParseError> {
        loop {
            let at = self.pos;
            let op = match self.peek() {
                Some(Tok::Sym(c @ ('+' | '-' | '*'))) => {
                    let c = *c;
                    self.pos += 1;
                    c
                }
                _ => '*',
            };
            let Some(Tok::Cmd(c)) = self.peek() else {
                self.pos = at;
                return Ok(acc);
            };
            if !c.starts_with("begin:") {
                self.pos = at;
                return Ok(acc);
            }
            self.pos += 1;
            let rhs = self.matrix()?;
            acc = combine_matrices(&acc, &rhs, op).ok_or_else(|| ParseError("matrix shapes do not fit".into()))?;
        }
    }
}

/// Cell-wise sum or difference, or the matrix product, of two matrices of expressions.
fn combine_matrices(a: &Node, b: &Node, op: char) -> Option<Node> {
    let cells = |n: &Node| -> Option<Vec<Vec<Expr>>> {
        let Node::Matrix(rows) = n else { return None };
        rows.iter()
            .map(|r| r.iter().map(|c| if let Node::Expr(e) = c { Some(e.clone()) } else { None }).collect())
            .collect()
    };
    let (a, b) = (cells(a)?, cells(b)?);
    let bx = |e: Expr| Box::new(e);
    let rows: Vec<Vec<Expr>> = if op == '*' {
        let inner = b.len();
        if a.first()?.len() != inner {
            return None;
        }
        let cols = b.first()?.len();
        a.iter()
            .map(|row| {
                (0..cols)
                    .map(|j| {
                        (0..inner)
                            .map(|k| Expr::Mul(bx(row[k].clone()), bx(b[k][j].clone())))
                            .reduce(|x, y| Expr::Add(bx(x), bx(y)))
                            .unwrap_or(Expr::Num(BigRational::zero()))
                    })
                    .collect()
            })
            .collect()
    } else {
        if a.len() != b.len() || a.iter().zip(&b).any(|(x, y)| x.len() != y.len()) {
            return None;
        }
        a.iter()
            .zip(&b)
            .map(|(x, y)| {
                x.iter()
                    .zip(y)
                    .map(|(p, q)| {
                        if op == '+' {
                            Expr::Add(bx(p.clone()), bx(q.clone()))
                        } else {
                            Expr::Sub(bx(p.clone()), bx(q.clone()))
                        }
                    })
                    .collect()
            })
            .collect()
    };
    Some(Node::Matrix(rows.into_iter().map(|r| r.into_iter().map(Node::Expr).collect()).collect()))
}
