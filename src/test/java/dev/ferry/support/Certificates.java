package dev.ferry.support;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Test certificates made at test time by the {@code openssl} command (Debian package {@code openssl}, which
 * {@code .ci/run} installs): a self-signed EC P-256 certificate per name, valid for that DNS name and 127.0.0.1, its
 * key in PKCS#8 as {@code openssl req} writes it. A self-signed certificate is its own authority: a client trusts it
 * by trusting the certificate itself.
 *
 * @param certificate the PEM certificate file
 * @param key         the PEM PKCS#8 key file
 * @param name        its subject's CN and DNS name
 */
public record Certificates(Path certificate, Path key, String name) {

  /** A new certificate and key for {@code name} in {@code dir} ({@code name.crt}, {@code name.key}). */
  public static Certificates selfSigned(Path dir, String name) throws IOException {
    return selfSigned(dir, name, name);
  }

  /** The same, written to files named after {@code file}: writing another over them is a rotation. */
  public static Certificates selfSigned(Path dir, String name, String file) throws IOException {
    Path openssl = Executables.require("openssl", "openssl");
    Path cert = dir.resolve(file + ".crt");
    Path key = dir.resolve(file + ".key");
    Path newCert = dir.resolve(file + ".crt.new");
    Path newKey = dir.resolve(file + ".key.new");
    run(dir, openssl.toString(), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", newKey.toString(), "-out", newCert.toString(), "-days", "2", "-subj", "/CN=" + name,
      "-addext", "subjectAltName=DNS:" + name + ",IP:127.0.0.1");
    // Each replaces its file at once, as a Secret's update does.
    Files.move(newKey, key, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
      java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    Files.move(newCert, cert, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
      java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    return new Certificates(cert, key, name);
  }

  private static void run(Path dir, String... command) throws IOException {
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    try {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IOException(String.join(" ", command) + " failed: " + out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }

  /** The certificate as the JDK reads it. */
  public X509Certificate x509() throws Exception {
    try (var in = Files.newInputStream(certificate)) {
      return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
  }

  /** A client context that trusts exactly these certificates. */
  public static SSLContext trusting(Certificates... trusted) throws Exception {
    KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
    store.load(null, null);
    for (Certificates c : trusted) {
      store.setCertificateEntry(c.name(), c.x509());
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(store);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }

  /** A server context that presents this certificate. */
  public SSLContext serverContext() throws Exception {
    String pem = Files.readString(key, StandardCharsets.US_ASCII);
    String body = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    PrivateKey privateKey = KeyFactory.getInstance("EC")
      .generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(body)));
    KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
    store.load(null, null);
    List<Certificate> chain = new ArrayList<>(CertificateFactory.getInstance("X.509")
      .generateCertificates(new ByteArrayInputStream(Files.readAllBytes(certificate))));
    store.setKeyEntry("key", privateKey, new char[0], chain.toArray(new Certificate[0]));
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(store, new char[0]);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), null, null);
    return ctx;
  }
}
