using Streaming.Models.Torch;
using TorchSharp;

namespace Streaming.Models.Tests;

public sealed class TorchRuntimeTests
{
    [Test]
    public void LibTorch_loads_from_the_build_output_and_runs_autograd()
    {
        TorchRuntime.EnsureLoaded();
        using var x = torch.tensor(new[] { 1f, 2f, 3f }, requires_grad: true);
        using var y = (x * x).sum();
        y.backward();
        Assert.That(x.grad!.data<float>().ToArray(), Is.EqualTo(new[] { 2f, 4f, 6f }));
    }

    [Test]
    public void Scoring_threads_use_one_intra_op_thread_and_training_threads_what_they_ask_for()
    {
        var scoring = 0;
        var training = 0;
        var a = new Thread(() => { TorchRuntime.UseScoringThread(); scoring = torch.get_num_threads(); });
        var b = new Thread(() => { TorchRuntime.UseTrainingThreads(2); training = torch.get_num_threads(); });
        a.Start();
        a.Join();
        b.Start();
        b.Join();
        Assert.That(scoring, Is.EqualTo(1));
        Assert.That(training, Is.EqualTo(2));
    }
}
