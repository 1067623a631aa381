namespace Streaming.Contracts;
