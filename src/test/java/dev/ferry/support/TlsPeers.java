package dev.ferry.support;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.security.cert.X509Certificate;
import java.util.List;

/** TLS clients and servers for tests: the JDK's own, over loopback. */
public final class TlsPeers {

  private TlsPeers() {
  }

  /**
   * A TLS client of {@code port}, handshaken, sending {@code serverName} as SNI (null: none) and trusting
   * {@code trust}. Its {@link Peer#finish()} sends a close_notify and then a FIN, as most TLS clients end (the JDK
   * sends the FIN only from a socket of its own, not from one layered over another).
   */
  public static Peer connect(int port, SSLContext trust, String serverName) throws IOException {
    SSLSocket tls = (SSLSocket) trust.getSocketFactory().createSocket();
    tls.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    tls.setTcpNoDelay(true);
    return handshake(tls, serverName);
  }

  /**
   * The same, layered over {@code plain} (a socket that chops its writes, say). Its {@link Peer#finish()} sends a
   * close_notify alone: the TCP connection stays open both ways.
   */
  public static Peer over(Socket plain, int port, SSLContext trust, String serverName) throws IOException {
    return handshake((SSLSocket) trust.getSocketFactory().createSocket(plain, "127.0.0.1", port, true), serverName);
  }

  private static Peer handshake(SSLSocket tls, String serverName) throws IOException {
    SSLParameters params = tls.getSSLParameters();
    params.setServerNames(serverName == null ? List.of() : List.of(new SNIHostName(serverName)));
    tls.setSSLParameters(params);
    tls.setSoTimeout((int) Await.DEFAULT.toMillis());
    tls.startHandshake();
    return new Peer(tls);
  }

  /** The CN of the certificate the server presented to {@code client}. */
  public static String presented(Peer client) throws IOException {
    X509Certificate leaf = (X509Certificate) ((SSLSocket) client.socket()).getSession().getPeerCertificates()[0];
    return leaf.getSubjectX500Principal().getName().replaceFirst("^CN=", "");
  }

  /** A TLS server socket on 127.0.0.1 presenting {@code certificate}, for a {@link Backend}. */
  public static SSLServerSocket server(Certificates certificate) throws Exception {
    SSLServerSocket s = (SSLServerSocket) certificate.serverContext().getServerSocketFactory()
      .createServerSocket(0, 50, InetAddress.getLoopbackAddress());
    return s;
  }
}
