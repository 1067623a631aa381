namespace Streaming.Processing.Scoring.Detection;

/// <summary>
/// One robust random cut tree (Guha et al., ICML 2016) over the points its <see cref="RandomCutForest"/> feeds it. Nodes
/// live in arrays (at most 2·capacity, recycled through a free list) that grow by doubling until the tree is full, after
/// which inserting and deleting allocate nothing. Leaves hold a copy of their point as a zero-width bounding box and count
/// duplicates in their mass.
/// </summary>
internal sealed partial class RandomCutTree
{
    private const int None = -1;

    // Node storage starts small and doubles up to its bound, so an entity that has seen few windows costs little.
    private const int InitialNodes = 8;

    private readonly int _dims;
    private readonly int _maxNodes;
    private int[] _parent = [];
    private int[] _left = [];
    private int[] _right = [];
    private int[] _mass = [];
    private int[] _cutDim = [];
    private double[] _cutValue = [];
    private float[] _min = [];
    private float[] _max = [];
    private readonly int _capacity;
    private int[] _leafOfSlot = [];
    private readonly Stack<int> _free = new();
    private SplitMix64 _random;
    private int _root = None;

    public RandomCutTree(int dims, int capacity, ulong seed)
    {
        _dims = dims;
        _maxNodes = 2 * capacity;
        _capacity = capacity;
        Grow();
        _random = new SplitMix64(seed);
    }

    /// <summary>Bytes of node storage per tree once it holds <paramref name="capacity"/> points: the bound on what one tree costs.</summary>
    public static long BytesFor(int dims, int capacity) => 2L * capacity * (5 * sizeof(int) + sizeof(double) + 2 * dims * sizeof(float)) + capacity * sizeof(int);

    public int Mass => _root == None ? 0 : _mass[_root];

    /// <summary>Inserts the point stored in <paramref name="slot"/> and returns its collusive displacement in this tree.</summary>
    public double InsertAndDisplace(int slot, ReadOnlySpan<float> point)
    {
        if (slot >= _leafOfSlot.Length)
        {
            var old = _leafOfSlot.Length;
            Array.Resize(ref _leafOfSlot, Math.Min(_capacity, Math.Max(slot + 1, Math.Max(InitialNodes, 2 * old))));
            _leafOfSlot.AsSpan(old).Fill(None);
        }
        var leaf = Insert(point);
        _leafOfSlot[slot] = leaf;
        return CollusiveDisplacement(leaf);
    }

    /// <summary>Removes the point held for <paramref name="slot"/> (one copy of it, when it has duplicates).</summary>
    public void Delete(int slot)
    {
        var leaf = _leafOfSlot[slot];
        _leafOfSlot[slot] = None;
        if (_mass[leaf] > 1)
        {
            for (var n = leaf; n != None; n = _parent[n])
                _mass[n]--;
            return;
        }
        var parent = _parent[leaf];
        _free.Push(leaf);
        if (parent == None)
        {
            _root = None;
            return;
        }
        var sibling = _left[parent] == leaf ? _right[parent] : _left[parent];
        var grand = _parent[parent];
        _free.Push(parent);
        _parent[sibling] = grand;
        if (grand == None)
        {
            _root = sibling;
            return;
        }
        if (_left[grand] == parent)
            _left[grand] = sibling;
        else
            _right[grand] = sibling;
        for (var n = grand; n != None; n = _parent[n])
        {
            _mass[n]--;
            ShrinkBox(n);
        }
    }

    private int Insert(ReadOnlySpan<float> point)
    {
        if (_root == None)
        {
            _root = NewLeaf(point, None);
            return _root;
        }
        var node = _root;
        while (true)
        {
            var box = node * _dims;
            var total = 0.0;
            for (var d = 0; d < _dims; d++)
                total += (double)Math.Max(_max[box + d], point[d]) - Math.Min(_min[box + d], point[d]);
            if (total <= 0)
            {
                // Only a leaf holding this very point spans nothing with it: a duplicate.
                for (var n = node; n != None; n = _parent[n])
                    _mass[n]++;
                return node;
            }
            var (dim, cut) = RandomCut(node, point, total);
            var separatesBelow = point[dim] <= cut && cut < _min[box + dim];
            var separatesAbove = _max[box + dim] <= cut && cut < point[dim];
            if (separatesBelow || separatesAbove)
                return Branch(node, point, dim, cut, pointOnLeft: separatesBelow);
            // The cut falls inside the node's box: follow the node's own cut (only internal nodes have a box with room).
            node = point[_cutDim[node]] <= _cutValue[node] ? _left[node] : _right[node];
        }
    }

    /// <summary>A cut drawn with probability proportional to each dimension's span of (node's box ∪ point).</summary>
    private (int Dim, double Cut) RandomCut(int node, ReadOnlySpan<float> point, double total)
    {
        var box = node * _dims;
        var r = _random.NextDouble() * total;
        var last = (Dim: 0, Low: 0.0);
        for (var d = 0; d < _dims; d++)
        {
            double lo = Math.Min(_min[box + d], point[d]);
            var span = (double)Math.Max(_max[box + d], point[d]) - lo;
            if (span <= 0)
                continue;
            if (r < span)
                return (d, lo + r);
            r -= span;
            last = (d, lo);
        }
        // Rounding left r a hair past the last span: cut at that span's low end, which still separates.
        return last;
    }

    private int Branch(int node, ReadOnlySpan<float> point, int dim, double cut, bool pointOnLeft)
    {
        var parent = _parent[node];
        var branch = Allocate();
        var leaf = NewLeaf(point, branch);
        _parent[branch] = parent;
        _cutDim[branch] = dim;
        _cutValue[branch] = cut;
        _left[branch] = pointOnLeft ? leaf : node;
        _right[branch] = pointOnLeft ? node : leaf;
        _mass[branch] = _mass[node] + 1;
        var box = branch * _dims;
        var child = node * _dims;
        for (var d = 0; d < _dims; d++)
        {
            _min[box + d] = Math.Min(_min[child + d], point[d]);
            _max[box + d] = Math.Max(_max[child + d], point[d]);
        }
        _parent[node] = branch;
        if (parent == None)
            _root = branch;
        else if (_left[parent] == node)
            _left[parent] = branch;
        else
            _right[parent] = branch;
        for (var n = parent; n != None; n = _parent[n])
        {
            _mass[n]++;
            var b = n * _dims;
            for (var d = 0; d < _dims; d++)
            {
                _min[b + d] = Math.Min(_min[b + d], point[d]);
                _max[b + d] = Math.Max(_max[b + d], point[d]);
            }
        }
        return leaf;
    }

    private int Allocate()
    {
        if (_free.Count == 0)
            Grow();
        return _free.Pop();
    }

    private void Grow()
    {
        var old = _parent.Length;
        var nodes = Math.Min(_maxNodes, Math.Max(InitialNodes, 2 * old));
        if (nodes <= old)
            throw new InvalidOperationException($"A random cut tree of {_maxNodes / 2} points ran out of nodes: a point was inserted without one being deleted.");
        Array.Resize(ref _parent, nodes);
        Array.Resize(ref _left, nodes);
        Array.Resize(ref _right, nodes);
        Array.Resize(ref _mass, nodes);
        Array.Resize(ref _cutDim, nodes);
        Array.Resize(ref _cutValue, nodes);
        Array.Resize(ref _min, nodes * _dims);
        Array.Resize(ref _max, nodes * _dims);
        for (var i = nodes - 1; i >= old; i--)
            _free.Push(i);
    }

    private int NewLeaf(ReadOnlySpan<float> point, int parent)
    {
        var leaf = Allocate();
        _parent[leaf] = parent;
        _left[leaf] = _right[leaf] = None;
        _mass[leaf] = 1;
        point.CopyTo(_min.AsSpan(leaf * _dims, _dims));
        point.CopyTo(_max.AsSpan(leaf * _dims, _dims));
        return leaf;
    }

    private void ShrinkBox(int node)
    {
        int box = node * _dims, l = _left[node] * _dims, r = _right[node] * _dims;
        for (var d = 0; d < _dims; d++)
        {
            _min[box + d] = Math.Min(_min[l + d], _min[r + d]);
            _max[box + d] = Math.Max(_max[l + d], _max[r + d]);
        }
    }

    /// <summary>
    /// CoDisp: the largest, over the leaf's ancestors, of (sibling's mass / mass of the subtree holding the leaf) — how many
    /// points would move closer to the root if the leaf and the points colluding with it were removed.
    /// </summary>
    private double CollusiveDisplacement(int leaf)
    {
        var best = 0.0;
        for (var node = leaf; _parent[node] != None; node = _parent[node])
        {
            var parent = _parent[node];
            var sibling = _left[parent] == node ? _right[parent] : _left[parent];
            best = Math.Max(best, (double)_mass[sibling] / _mass[node]);
        }
        return best;
    }
}

/// <summary>A small, fast, seedable generator (Steele et al.'s SplitMix64): the same seed gives the same cuts on every runtime.</summary>
internal partial struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));
}
