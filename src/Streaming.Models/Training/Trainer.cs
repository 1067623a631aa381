using Streaming.Models.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Streaming.Models.Training;

/// <summary>One model's samples and loss, as seen by <see cref="Trainer"/>.</summary>
internal interface ITrainingTask
{
    nn.Module Network { get; }

    int TrainCount { get; }

    int ValidationCount { get; }

    /// <summary>Per-sample losses [B] of the given training samples, with autograd (the network is in training mode).</summary>
    Tensor TrainLosses(ReadOnlySpan<int> samples);

    /// <summary>Per-sample losses [B] of validation samples [start, start + count): no sampling noise, no dropout.</summary>
    Tensor ValidationLosses(int start, int count);
}

/// <summary>
/// Mini-batch training loop: seeded shuffling and LibTorch RNG (dropout, VAE noise), torch.optim.Adam,
/// clip_grad_norm_, optional learning-rate decay on a plateau, early stopping on validation loss with the best epoch's
/// weights restored. With <see cref="TrainingOptions.DecayEpochs"/> set it is a refit instead: exactly
/// <see cref="TrainingOptions.Epochs"/> epochs, the rate decayed after the listed epochs, the last weights kept.
/// Runs on the calling thread with <see cref="TrainingOptions.Threads"/> intra-op threads.
/// </summary>
internal static class Trainer
{
    private const int ValidationChunk = 1024;

    public static TrainingResult Train(ITrainingTask task, TrainingOptions options, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(task.TrainCount, 1);
        var refit = options.DecayEpochs is not null;
        if (!refit)
            ArgumentOutOfRangeException.ThrowIfLessThan(task.ValidationCount, 1);
        TorchRuntime.UseTrainingThreads(options.Threads);
        manual_seed(options.Seed);
        var network = task.Network;
        var parameters = network.parameters().ToArray();
        using var optimizer = optim.Adam(parameters, options.LearningRate);
        var random = new Random(options.Seed);
        var order = Enumerable.Range(0, task.TrainCount).ToArray();
        var batches = (task.TrainCount + options.BatchSize - 1) / options.BatchSize;
        if (refit)
            return Refit(task, options, optimizer, parameters, random, order, batches, progress, cancellationToken);

        var best = TensorData.Snapshot(network);
        var bestLoss = Validate(task);
        var bestEpoch = 0;
        var trainLosses = new List<double>();
        var validationLosses = new List<double>();
        var decays = new List<int>();
        var sinceImprovement = 0;
        var epoch = 0;
        var stoppedEarly = false;

        while (epoch < options.Epochs)
        {
            epoch++;
            var epochLoss = TrainEpoch(task, options, optimizer, parameters, random, order, batches, epoch, progress, cancellationToken);
            var validationLoss = Validate(task);
            trainLosses.Add(epochLoss);
            validationLosses.Add(validationLoss);
            progress?.Report(new TrainingProgress(epoch, options.Epochs, batches, batches, epochLoss, validationLoss));

            if (validationLoss < bestLoss)
            {
                bestLoss = validationLoss;
                bestEpoch = epoch;
                sinceImprovement = 0;
                foreach (var tensor in best)
                {
                    tensor.Dispose();
                }

                best = TensorData.Snapshot(network);
            }
            else if (++sinceImprovement >= options.Patience)
            {
                stoppedEarly = true;
                break;
            }
            else if (options.PlateauEpochs > 0 && sinceImprovement % options.PlateauEpochs == 0)
            {
                Decay(optimizer, options.PlateauFactor);
                decays.Add(epoch);
            }
        }

        TensorData.Restore(network, best);
        foreach (var tensor in best)
        {
            tensor.Dispose();
        }

        network.eval();
        return new TrainingResult(epoch, bestEpoch, bestLoss, trainLosses, validationLosses, stoppedEarly, decays);
    }

    /// <summary>
    /// The fixed schedule: every epoch runs, the rate decays after the listed epochs (as the first fit's plateau did, so
    /// epoch e + 1 starts at the same rate as it did there), and the last epoch's weights are the model. Validation
    /// losses, when there are validation samples, are only recorded; the best epoch is the last.
    /// </summary>
    private static TrainingResult Refit(
        ITrainingTask task, TrainingOptions options, optim.Optimizer optimizer, TorchSharp.Modules.Parameter[] parameters, Random random, int[] order, int batches,
        IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        var decayAfter = options.DecayEpochs!.ToHashSet();
        var trainLosses = new List<double>();
        var validationLosses = new List<double>();
        var decays = new List<int>();
        for (var epoch = 1; epoch <= options.Epochs; epoch++)
        {
            var epochLoss = TrainEpoch(task, options, optimizer, parameters, random, order, batches, epoch, progress, cancellationToken);
            double? validationLoss = task.ValidationCount > 0 ? Validate(task) : null;
            trainLosses.Add(epochLoss);
            if (validationLoss is { } v)
                validationLosses.Add(v);
            progress?.Report(new TrainingProgress(epoch, options.Epochs, batches, batches, epochLoss, validationLoss));
            if (decayAfter.Contains(epoch))
            {
                Decay(optimizer, options.PlateauFactor);
                decays.Add(epoch);
            }
        }

        task.Network.eval();
        var last = validationLosses.Count > 0 ? validationLosses[^1] : double.NaN;
        return new TrainingResult(options.Epochs, options.Epochs, last, trainLosses, validationLosses, StoppedEarly: false, decays);
    }

    /// <summary>One pass over the shuffled training samples; returns the mean per-sample loss.</summary>
    private static double TrainEpoch(
        ITrainingTask task, TrainingOptions options, optim.Optimizer optimizer, TorchSharp.Modules.Parameter[] parameters, Random random, int[] order, int batches,
        int epoch, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        random.Shuffle(order);
        task.Network.train();
        var epochLoss = 0.0;
        for (var batch = 0; batch < batches; batch++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var start = batch * options.BatchSize;
            var count = Math.Min(options.BatchSize, task.TrainCount - start);
            double batchLoss;
            using (new NoCollectionRegion())
            using (NewDisposeScope())
            {
                optimizer.zero_grad();

                // Mean over the batch, as a PyTorch loss with reduction="mean" gives.
                var loss = task.TrainLosses(order.AsSpan(start, count)).mean();
                loss.backward();
                if (options.ClipNorm > 0)
                {
                    nn.utils.clip_grad_norm_(parameters, options.ClipNorm);
                }

                optimizer.step();
                batchLoss = loss.item<float>();
            }

            epochLoss += batchLoss * count;
            progress?.Report(new TrainingProgress(epoch, options.Epochs, batch + 1, batches, batchLoss, null));
        }

        return epochLoss / task.TrainCount;
    }

    private static void Decay(optim.Optimizer optimizer, double factor)
    {
        foreach (var group in optimizer.ParamGroups)
        {
            group.LearningRate *= factor;
        }
    }

    /// <summary>Mean per-sample validation loss, in eval mode without gradients.</summary>
    public static double Validate(ITrainingTask task)
    {
        task.Network.eval();
        using var noGrad = no_grad();
        var sum = 0.0;
        for (var start = 0; start < task.ValidationCount; start += ValidationChunk)
        {
            using var scope = NewDisposeScope();
            var count = Math.Min(ValidationChunk, task.ValidationCount - start);
            sum += task.ValidationLosses(start, count).to_type(ScalarType.Float64).sum().item<double>();
        }

        return sum / task.ValidationCount;
    }
}

/// <summary>
/// No garbage collection while one optimiser step runs. TorchSharp turns doubles into <c>Scalar</c> temporaries (Adam does
/// so per parameter and step) that hold a raw native pointer and free it in their finalizer; once the native call has the
/// pointer the temporary is unreachable, so a collection during the call lets the finalizer thread free a scalar in use.
/// Seen on a loaded 2-core machine in 3 of 5 C-MAPSS runs as "Unknown scalar type" or "toFloat" errors out of
/// <c>Adam.step</c>. Temporaries from this region die only at a collection after it, when their calls have returned.
/// </summary>
internal readonly struct NoCollectionRegion : IDisposable
{
    /// <summary>Far above one step's managed allocations (a batch's arrays and tensor wrappers: well under 1 MB).</summary>
    private const long Budget = 16L << 20;

    // The region is process-wide and cannot be entered twice: models trained side by side (NAB's files, a bundle's
    // members) share one, started by the first step to enter and ended by the last to leave.
    private static readonly Lock Gate = new();
    private static int s_inside;

    public NoCollectionRegion()
    {
        lock (Gate)
        {
            if (s_inside++ == 0 && System.Runtime.GCSettings.LatencyMode != System.Runtime.GCLatencyMode.NoGCRegion)
                GC.TryStartNoGCRegion(Budget);
        }
    }

    public void Dispose()
    {
        lock (Gate)
        {
            // A region ends by itself if allocations outgrow the budget; ending it again would throw.
            if (--s_inside == 0 && System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion)
                GC.EndNoGCRegion();
        }
    }
}
