using System.Numerics.Tensors;
using Streaming.Models.Networks;

namespace Streaming.Models.Training;

/// <summary>One model's samples and loss, as seen by <see cref="Trainer"/>.</summary>
internal interface ITrainingTask
{
    ITrainableNetwork<float> Network { get; }

    int TrainCount { get; }

    int ValidationCount { get; }

    /// <summary>Forward and backward pass for one training sample; accumulates gradients and returns the loss.</summary>
    double AccumulateGradients(int trainSample, Random random);

    /// <summary>Loss of one validation sample, without gradients and without sampling noise.</summary>
    double ValidationLoss(int validationSample);
}

/// <summary>Mini-batch training loop: seeded shuffling, Adam, global-norm clipping, early stopping on validation loss.</summary>
internal static class Trainer
{
    public static TrainingResult Train(ITrainingTask task, TrainingOptions options, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(task.TrainCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(task.ValidationCount, 1);
        var parameters = task.Network.Parameters;
        var optimizer = new AdamOptimizer(parameters, options.LearningRate);
        var random = new Random(options.Seed);
        var order = Enumerable.Range(0, task.TrainCount).ToArray();
        var batches = (task.TrainCount + options.BatchSize - 1) / options.BatchSize;
        var best = parameters.Select(p => (float[])p.Value.Clone()).ToArray();
        var bestLoss = Validate(task);
        var bestEpoch = 0;
        var trainLosses = new List<double>();
        var validationLosses = new List<double>();
        var sinceImprovement = 0;
        var epoch = 0;
        var stoppedEarly = false;

        while (epoch < options.Epochs)
        {
            epoch++;
            random.Shuffle(order);
            var epochLoss = 0.0;
            for (var batch = 0; batch < batches; batch++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                optimizer.ZeroGrad();
                var start = batch * options.BatchSize;
                var count = Math.Min(options.BatchSize, task.TrainCount - start);
                var batchLoss = 0.0;
                for (var i = 0; i < count; i++)
                {
                    batchLoss += task.AccumulateGradients(order[start + i], random);
                }

                // Mean over the batch, as a PyTorch loss with reduction="mean" would give.
                foreach (var parameter in parameters)
                {
                    TensorPrimitives.Multiply(parameter.Grad, 1f / count, parameter.Grad);
                }

                GradientClipping.ClipByGlobalNorm(parameters, options.ClipNorm);
                optimizer.Step();
                task.Network.OnParametersChanged();
                epochLoss += batchLoss;
                progress?.Report(new TrainingProgress(epoch, options.Epochs, batch + 1, batches, batchLoss / count, null));
            }

            var validationLoss = Validate(task);
            trainLosses.Add(epochLoss / task.TrainCount);
            validationLosses.Add(validationLoss);
            progress?.Report(new TrainingProgress(epoch, options.Epochs, batches, batches, epochLoss / task.TrainCount, validationLoss));

            if (validationLoss < bestLoss)
            {
                bestLoss = validationLoss;
                bestEpoch = epoch;
                sinceImprovement = 0;
                for (var k = 0; k < parameters.Count; k++)
                {
                    parameters[k].Value.CopyTo(best[k], 0);
                }
            }
            else if (++sinceImprovement >= options.Patience)
            {
                stoppedEarly = true;
                break;
            }
        }

        for (var k = 0; k < parameters.Count; k++)
        {
            best[k].CopyTo(parameters[k].Value, 0);
        }

        task.Network.OnParametersChanged();
        return new TrainingResult(epoch, bestEpoch, bestLoss, trainLosses, validationLosses, stoppedEarly);
    }

    private static double Validate(ITrainingTask task)
    {
        var sum = 0.0;
        for (var i = 0; i < task.ValidationCount; i++)
        {
            sum += task.ValidationLoss(i);
        }

        return sum / task.ValidationCount;
    }
}
