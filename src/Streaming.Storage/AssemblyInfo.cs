namespace Streaming.Storage;
