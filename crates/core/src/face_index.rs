//! 1:N face search (issue 21): an org's enrolled faces as int8 vectors, searched exactly.
//! Each embedding is quantised to 8 bits with its own scale (`x ≈ q × scale`, `q` in
//! −127..=127), so a 512-d face takes 512 bytes plus its ids; the cosine of two faces is the
//! integer dot product of their codes times both scales, within about 0.01 of the f32 cosine
//! (the caller re-scores the few hits it keeps from the sealed embeddings). The dot product is
//! written for the compiler to vectorise (16-lane chunks into i32 sums).

use std::collections::HashMap;

/// One enrolled face in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub enrollment_id: String,
    pub customer_id: String,
}

/// The best-scoring face of one customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub enrollment_id: String,
    pub customer_id: String,
    /// Approximate cosine similarity (int8 codes).
    pub score: f32,
}

/// An embedding's 8-bit code and scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Code {
    pub values: Vec<i8>,
    pub scale: f32,
}

/// Quantises `embedding` symmetrically: the largest magnitude maps to ±127.
pub fn quantize(embedding: &[f32]) -> Code {
    let max = embedding.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || !max.is_finite() {
        return Code { values: vec![0; embedding.len()], scale: 0.0 };
    }
    let scale = max / 127.0;
    let values = embedding.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8).collect();
    Code { values, scale }
}

/// Σ a·b over two codes of equal length.
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    const LANES: usize = 16;
    let mut sums = [0i32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: i32 =
        a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| i32::from(*x) * i32::from(*y)).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            sums[lane] += i32::from(x[lane]) * i32::from(y[lane]);
        }
    }
    sums.iter().sum::<i32>() + tail
}

/// An org's faces of one model, searched exhaustively.
#[derive(Debug, Default)]
pub struct FaceIndex {
    dim: usize,
    entries: Vec<Entry>,
    scales: Vec<f32>,
    /// `entries.len() × dim` codes, row by row.
    codes: Vec<i8>,
    positions: HashMap<String, usize>,
}

impl FaceIndex {
    pub fn new(dim: usize) -> Self {
        FaceIndex { dim, ..Default::default() }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, enrollment_id: &str) -> bool {
        self.positions.contains_key(enrollment_id)
    }

    /// Bytes the index holds for its vectors (the ids come on top).
    pub fn vector_bytes(&self) -> usize {
        self.codes.len() + 4 * self.scales.len()
    }

    /// Adds (or replaces) an enrollment's face; false when the embedding has the wrong length.
    pub fn insert(&mut self, enrollment_id: &str, customer_id: &str, embedding: &[f32]) -> bool {
        if embedding.len() != self.dim {
            return false;
        }
        let code = quantize(embedding);
        if let Some(&at) = self.positions.get(enrollment_id) {
            self.codes[at * self.dim..(at + 1) * self.dim].copy_from_slice(&code.values);
            self.scales[at] = code.scale;
            self.entries[at].customer_id = customer_id.to_string();
            return true;
        }
        self.positions.insert(enrollment_id.to_string(), self.entries.len());
        self.entries.push(Entry { enrollment_id: enrollment_id.to_string(), customer_id: customer_id.to_string() });
        self.scales.push(code.scale);
        self.codes.extend_from_slice(&code.values);
        true
    }

    /// Removes an enrollment's face (the last row moves into its place).
    pub fn remove(&mut self, enrollment_id: &str) -> bool {
        let Some(at) = self.positions.remove(enrollment_id) else { return false };
        let last = self.entries.len() - 1;
        if at != last {
            let (head, tail) = self.codes.split_at_mut(last * self.dim);
            head[at * self.dim..(at + 1) * self.dim].copy_from_slice(&tail[..self.dim]);
            self.entries.swap(at, last);
            self.scales.swap(at, last);
            self.positions.insert(self.entries[at].enrollment_id.clone(), at);
        }
        self.entries.pop();
        self.scales.pop();
        self.codes.truncate(last * self.dim);
        true
    }

    /// Removes every face of a customer; how many there were.
    pub fn remove_customer(&mut self, customer_id: &str) -> usize {
        let ids: Vec<String> =
            self.entries.iter().filter(|e| e.customer_id == customer_id).map(|e| e.enrollment_id.clone()).collect();
        ids.iter().filter(|id| self.remove(id)).count()
    }

    /// The `k` customers whose best face is most like `probe`, best first, each with that face.
    pub fn search(&self, probe: &[f32], k: usize) -> Vec<Hit> {
        let n = self.entries.len();
        if probe.len() != self.dim || k == 0 || n == 0 {
            return Vec::new();
        }
        let code = quantize(probe);
        let scores: Vec<f32> = self
            .codes
            .chunks_exact(self.dim)
            .zip(&self.scales)
            .map(|(row, scale)| dot_i8(&code.values, row) as f32 * code.scale * scale)
            .collect();
        let mut order: Vec<u32> = (0..n as u32).collect();
        // The best rows, widened until they hold k customers (a customer may have several faces).
        let mut take = (4 * k).min(n);
        loop {
            let by_score = |a: &u32, b: &u32| {
                scores[*b as usize]
                    .total_cmp(&scores[*a as usize])
                    .then_with(|| self.entries[*a as usize].enrollment_id.cmp(&self.entries[*b as usize].enrollment_id))
            };
            if take < n {
                order.select_nth_unstable_by(take, by_score);
            }
            let top = &mut order[..take];
            top.sort_unstable_by(by_score);
            let mut seen = std::collections::HashSet::new();
            let hits: Vec<Hit> = top
                .iter()
                .filter(|at| seen.insert(self.entries[**at as usize].customer_id.as_str()))
                .take(k)
                .map(|at| {
                    let entry = &self.entries[*at as usize];
                    Hit {
                        enrollment_id: entry.enrollment_id.clone(),
                        customer_id: entry.customer_id.clone(),
                        score: scores[*at as usize],
                    }
                })
                .collect();
            if hits.len() == k || take == n {
                return hits;
            }
            take = (4 * take).min(n);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn unit(rng: &mut impl Rng, dim: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / norm).collect()
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// `base` moved towards another random direction: a second photo of the same face.
    fn near(rng: &mut impl Rng, base: &[f32], amount: f32) -> Vec<f32> {
        let noise = unit(rng, base.len());
        let v: Vec<f32> = base.iter().zip(&noise).map(|(b, n)| b + amount * n).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / norm).collect()
    }

    #[test]
    fn int8_scores_stay_within_a_hundredth_of_the_cosine() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let a = unit(&mut rng, 512);
            let amount = rng.gen_range(0.0..2.0);
            let b = near(&mut rng, &a, amount);
            let (qa, qb) = (quantize(&a), quantize(&b));
            let approx = dot_i8(&qa.values, &qb.values) as f32 * qa.scale * qb.scale;
            assert!((approx - cosine(&a, &b)).abs() < 0.01, "{approx} vs {}", cosine(&a, &b));
        }
    }

    #[test]
    fn the_dot_product_counts_every_element() {
        let a: Vec<i8> = (0..37).map(|i| (i % 11) as i8 - 5).collect();
        let b: Vec<i8> = (0..37).map(|i| (i % 7) as i8 - 3).collect();
        let plain: i32 = a.iter().zip(&b).map(|(x, y)| i32::from(*x) * i32::from(*y)).sum();
        assert_eq!(dot_i8(&a, &b), plain);
        assert_eq!(dot_i8(&[127; 512], &[-127; 512]), -127 * 127 * 512);
    }

    #[test]
    fn search_ranks_customers_by_their_best_face_and_forgets_removed_ones() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut index = FaceIndex::new(512);
        let person = unit(&mut rng, 512);
        index.insert("fe_a1", "cus_a", &near(&mut rng, &person, 0.3));
        index.insert("fe_a2", "cus_a", &unit(&mut rng, 512));
        index.insert("fe_b1", "cus_b", &near(&mut rng, &person, 0.6));
        let others: Vec<Vec<f32>> = (0..50).map(|_| unit(&mut rng, 512)).collect();
        for (n, face) in others.iter().enumerate() {
            index.insert(&format!("fe_x{n}"), &format!("cus_x{n}"), face);
        }
        assert!(!index.insert("fe_bad", "cus_bad", &[0.5; 3]), "a vector of the wrong length is refused");
        let hits = index.search(&person, 3);
        let customers: Vec<&str> = hits.iter().map(|h| h.customer_id.as_str()).collect();
        assert_eq!(customers[..2], ["cus_a", "cus_b"], "{hits:?}");
        assert_eq!(hits[0].enrollment_id, "fe_a1", "a customer's best face stands for it");
        assert!(hits[0].score > 0.9 && hits[2].score < 0.3, "{hits:?}");

        assert_eq!(index.remove_customer("cus_a"), 2);
        assert!(index.remove("fe_x7"));
        assert!(!index.remove("fe_x7"));
        assert_eq!(index.len(), 50);
        let hits = index.search(&person, 60);
        assert_eq!(hits.len(), 50);
        assert!(hits.iter().all(|h| h.customer_id != "cus_a" && h.enrollment_id != "fe_x7"));
        assert_eq!(hits[0].customer_id, "cus_b");
        // Rows moved into the removed ones' places still score as themselves.
        for (n, face) in others.iter().enumerate().filter(|(n, _)| *n != 7) {
            let top = &index.search(face, 1)[0];
            assert_eq!(top.enrollment_id, format!("fe_x{n}"));
            assert!(top.score > 0.99, "{top:?}");
        }
    }
}
