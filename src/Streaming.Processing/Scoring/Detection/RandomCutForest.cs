namespace Streaming.Processing.Scoring.Detection;

/// <summary>
/// A streaming Robust Random Cut Forest (Guha et al., ICML 2016) over a sliding window of the last
/// <see cref="SampleSize"/> points: every tree holds the same points with its own random cuts. A new point is scored by its
/// collusive displacement averaged over the trees, then kept; the oldest point leaves once the window is full. Memory is
/// fixed at construction (<see cref="BytesFor"/>); nothing is allocated per point. Deterministic for a given seed.
/// </summary>
public sealed partial class RandomCutForest
{
    private readonly RandomCutTree[] _trees;
    private readonly float[] _point;
    private int _next;

    public RandomCutForest(int dimensions, int trees, int sampleSize, ulong seed)
    {
        if (dimensions < 1)
            throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions, "A point needs at least one dimension.");
        if (trees < 1)
            throw new ArgumentOutOfRangeException(nameof(trees), trees, "A forest needs at least one tree.");
        if (sampleSize < 2)
            throw new ArgumentOutOfRangeException(nameof(sampleSize), sampleSize, "Each tree must hold at least two points.");
        Dimensions = dimensions;
        SampleSize = sampleSize;
        _point = new float[dimensions];
        _trees = new RandomCutTree[trees];
        var seeds = new SplitMix64(seed);
        for (var i = 0; i < trees; i++)
            _trees[i] = new RandomCutTree(dimensions, sampleSize, seeds.Next());
    }

    public int Dimensions { get; }

    public int SampleSize { get; }

    /// <summary>Points held (at most <see cref="SampleSize"/>).</summary>
    public int Count { get; private set; }

    /// <summary>What a forest of this shape holds in memory, whatever it has seen.</summary>
    public static long BytesFor(int dimensions, int trees, int sampleSize) => trees * RandomCutTree.BytesFor(dimensions, sampleSize);

    /// <summary>
    /// Scores <paramref name="point"/> (its CoDisp averaged over the trees, after insertion: 0 for the first point) and keeps
    /// it, evicting the oldest point when the window is full.
    /// </summary>
    public double ScoreAndInsert(ReadOnlySpan<double> point)
    {
        if (point.Length != Dimensions)
            throw new ArgumentException($"The forest holds {Dimensions}-dimensional points; got {point.Length}.", nameof(point));
        for (var d = 0; d < point.Length; d++)
            _point[d] = (float)point[d];
        var slot = _next;
        _next = (_next + 1) % SampleSize;
        var full = Count == SampleSize;
        var sum = 0.0;
        foreach (var tree in _trees)
        {
            if (full)
                tree.Delete(slot);
            sum += tree.InsertAndDisplace(slot, _point);
        }
        if (!full)
            Count++;
        return sum / _trees.Length;
    }
}
