package dev.ferry.support;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyMessageEncoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;

import java.io.IOException;
import java.io.InputStream;

/** PROXY protocol headers for tests, written and read by Netty's own encoder and decoder (no parser of the test's). */
public final class ProxyHeaders {

  private ProxyHeaders() {
  }

  /** A PROXY TCP4 header of {@code version} from {@code srcIp:srcPort} to {@code dstIp:dstPort}. */
  public static byte[] tcp4(HAProxyProtocolVersion version, String srcIp, int srcPort, String dstIp, int dstPort) {
    return encode(new HAProxyMessage(version, HAProxyCommand.PROXY, HAProxyProxiedProtocol.TCP4, srcIp, dstIp,
      srcPort, dstPort));
  }

  /**
   * A header that names no client (a load balancer's health check): v2's LOCAL command, or v1's {@code UNKNOWN}, which
   * the v1 text has instead (Netty's encoder writes LOCAL for v2 only).
   */
  public static byte[] local(HAProxyProtocolVersion version) {
    if (version == HAProxyProtocolVersion.V1) {
      return "PROXY UNKNOWN\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }
    return encode(new HAProxyMessage(version, HAProxyCommand.LOCAL, HAProxyProxiedProtocol.UNKNOWN, null, null, 0,
      0));
  }

  private static byte[] encode(HAProxyMessage message) {
    EmbeddedChannel ch = new EmbeddedChannel(HAProxyMessageEncoder.INSTANCE);
    ch.writeOutbound(message);
    ByteBuf buf = ch.readOutbound();
    byte[] bytes = new byte[buf.readableBytes()];
    buf.readBytes(bytes);
    buf.release();
    ch.finishAndReleaseAll();
    return bytes;
  }

  /** What a header read from {@code in} says, as {@code "V1 TCP4 127.0.0.1:5000 -> 10.0.0.1:443"}. */
  public static String read(InputStream in) throws IOException {
    EmbeddedChannel ch = new EmbeddedChannel(new HAProxyMessageDecoder());
    try {
      while (true) {
        int b = in.read();
        if (b < 0) {
          throw new IOException("the stream ended before a whole PROXY protocol header");
        }
        ch.writeInbound(ch.alloc().buffer(1).writeByte(b));
        HAProxyMessage m = ch.readInbound();
        if (m != null) {
          try {
            return m.protocolVersion() + " " + m.proxiedProtocol() + " " + m.sourceAddress() + ":" + m.sourcePort()
              + " -> " + m.destinationAddress() + ":" + m.destinationPort();
          } finally {
            m.release();
          }
        }
      }
    } finally {
      ch.finishAndReleaseAll();
    }
  }
}
