namespace Streaming.Simulation;
