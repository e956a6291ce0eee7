//! Disjoint sets over indices (`parent[i] == i` marks a root), shared by hole filling (runs of
//! background) and the watershed's h-maxima (pixels).

/// The root of `i`'s set, halving the path on the way.
pub(crate) fn find(parent: &mut [u32], mut i: usize) -> usize {
    while parent[i] as usize != i {
        parent[i] = parent[parent[i] as usize];
        i = parent[i] as usize;
    }
    i
}

/// Join the sets of `a` and `b` under the smaller root.
pub(crate) fn union(parent: &mut [u32], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        parent[ra.max(rb)] = ra.min(rb) as u32;
    }
}
