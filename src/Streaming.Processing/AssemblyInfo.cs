namespace Streaming.Processing;
