using Streaming.Models.Layers;

namespace Streaming.Models.Training;

/// <summary>Adam (Kingma &amp; Ba) with bias correction, matching torch.optim.Adam's defaults and update rule.</summary>
internal sealed class AdamOptimizer
{
    private readonly IReadOnlyList<Parameter<float>> parameters;
    private readonly float[][] firstMoment;
    private readonly float[][] secondMoment;
    private readonly double beta1;
    private readonly double beta2;
    private readonly double epsilon;
    private int step;

    public AdamOptimizer(IReadOnlyList<Parameter<float>> parameters, double learningRate, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        this.parameters = parameters;
        LearningRate = learningRate;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.epsilon = epsilon;
        firstMoment = [.. parameters.Select(p => new float[p.Length])];
        secondMoment = [.. parameters.Select(p => new float[p.Length])];
    }

    public double LearningRate { get; set; }

    public void Step()
    {
        step++;
        var correction1 = 1 - Math.Pow(beta1, step);
        var correction2 = 1 - Math.Pow(beta2, step);
        var stepSize = (float)(LearningRate / correction1);
        var sqrtCorrection2 = (float)Math.Sqrt(correction2);
        float b1 = (float)beta1, b2 = (float)beta2, eps = (float)epsilon;
        for (var k = 0; k < parameters.Count; k++)
        {
            var value = parameters[k].Value;
            var grad = parameters[k].Grad;
            var m = firstMoment[k];
            var v = secondMoment[k];
            for (var i = 0; i < value.Length; i++)
            {
                m[i] = (b1 * m[i]) + ((1 - b1) * grad[i]);
                v[i] = (b2 * v[i]) + ((1 - b2) * grad[i] * grad[i]);
                value[i] -= stepSize * m[i] / ((MathF.Sqrt(v[i]) / sqrtCorrection2) + eps);
            }
        }
    }

    public void ZeroGrad()
    {
        foreach (var parameter in parameters)
        {
            Array.Clear(parameter.Grad);
        }
    }
}
