using System.Numerics;
using Streaming.Models.Layers;

namespace Streaming.Models.Networks;

/// <summary>A network whose parameters an optimiser updates in place.</summary>
internal interface ITrainableNetwork<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    IReadOnlyList<Parameter<T>> Parameters { get; }

    /// <summary>Called after parameter values change (optimiser step, weight load) to refresh derived layouts.</summary>
    void OnParametersChanged();
}
