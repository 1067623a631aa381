namespace Streaming.Models.Training;

/// <summary>Reported after every optimiser step (ValidationLoss null) and at the end of every epoch (with it).</summary>
internal sealed record TrainingProgress(int Epoch, int Epochs, int Batch, int Batches, double Loss, double? ValidationLoss);

internal sealed record TrainingOptions
{
    public int Epochs { get; init; } = 30;

    public int BatchSize { get; init; } = 32;

    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Maximum global L2 norm of the gradient (as torch.nn.utils.clip_grad_norm_); 0 disables clipping.</summary>
    public double ClipNorm { get; init; } = 1.0;

    /// <summary>Epochs without validation improvement before stopping; the best epoch's weights are restored.</summary>
    public int Patience { get; init; } = 5;

    /// <summary>
    /// Learning-rate decay on a plateau, as ReduceLROnPlateau: after this many epochs without validation improvement
    /// (and after every further as many) the rate is multiplied by <see cref="PlateauFactor"/>. 0 disables it.
    /// </summary>
    public int PlateauEpochs { get; init; }

    public double PlateauFactor { get; init; } = 0.5;

    /// <summary>
    /// A refit's fixed schedule (null: the usual validation-driven run). When set, training runs exactly
    /// <see cref="Epochs"/> epochs and keeps the last epoch's weights: no early stopping, no best-epoch restore, and the
    /// learning rate is multiplied by <see cref="PlateauFactor"/> after each listed epoch instead of on a validation
    /// plateau — a first fit's <see cref="TrainingResult.DecayEpochs"/> replayed. Validation samples are optional then
    /// and only monitored.
    /// </summary>
    public IReadOnlyList<int>? DecayEpochs { get; init; }

    public int Seed { get; init; } = 42;

    /// <summary>Fraction of samples (the most recent ones for time series) held out for validation.</summary>
    public double ValidationFraction { get; init; } = 0.2;

    /// <summary>
    /// LibTorch intra-op threads while training. One by default: these models are small, and on a loaded 2-core machine
    /// OpenMP's second thread made a C-MAPSS epoch about 10× slower (19 s against 2 s, measured); raise it on idle many-core hosts.
    /// </summary>
    public int Threads { get; init; } = 1;
}

internal sealed record TrainingResult(
    int EpochsRun,
    int BestEpoch,
    double BestValidationLoss,
    IReadOnlyList<double> TrainLoss,
    IReadOnlyList<double> ValidationLoss,
    bool StoppedEarly,
    IReadOnlyList<int> DecayEpochs)
{
    /// <summary>
    /// The options that retrain this run from scratch on more data with the same schedule: <see cref="BestEpoch"/>
    /// epochs, and the learning rate decayed after the same epochs as here (those before the best epoch; later ones
    /// never touched the kept weights).
    /// </summary>
    public TrainingOptions RefitOptions(TrainingOptions fit) =>
        fit with { Epochs = BestEpoch, DecayEpochs = [.. DecayEpochs.Where(e => e < BestEpoch)] };
}

/// <summary>
/// The downtime predictor's optional parts (<see cref="Networks.DowntimeNetwork"/>; the default is LSTM + head) and the
/// weight of its time-to-downtime error next to the horizons' cross-entropy in the training loss.
/// </summary>
internal sealed record DowntimeHead(
    int ConvChannels = 0, int ConvKernel = 0, bool Attention = false, int HiddenSize = 0, double Dropout = 0, double Smoothing = 0, double TimeWeight = 1);
