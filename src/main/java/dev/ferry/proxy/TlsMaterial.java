package dev.ferry.proxy;

import dev.ferry.config.ConfigException;
import dev.ferry.config.TlsProvider;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslProvider;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A certificate chain and its private key read from PEM files, checked to belong together, and the TLS provider in
 * use. Certificates are parsed by the JDK's {@link CertificateFactory}; the key is PKCS#8 ({@code BEGIN PRIVATE KEY}),
 * the one encoding Netty reads without BouncyCastle: a PKCS#1 or SEC1 key ({@code BEGIN RSA PRIVATE KEY},
 * {@code BEGIN EC PRIVATE KEY}, cert-manager's default encoding) is refused with the command that converts it.
 * <p>
 * Immutable; reading it does blocking file I/O (at start-up, or on a worker thread for a reload).
 *
 * @param chain the certificate chain, leaf first
 * @param key   the leaf's private key
 * @param bytes the two files' contents as read, to notice a change
 */
record TlsMaterial(List<X509Certificate> chain, PrivateKey key, byte[] bytes) {

  private static final Pattern PKCS8 = Pattern.compile(
    "-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");
  private static final Pattern OTHER_KEY = Pattern.compile("-----BEGIN ([A-Z ]*)PRIVATE KEY-----");

  /** The provider {@code tls.provider} asks for: OpenSSL where it loads ({@code auto}), or as required. */
  static SslProvider provider(TlsProvider configured, String key) {
    return switch (configured) {
      case JDK -> SslProvider.JDK;
      case OPENSSL -> {
        if (!OpenSsl.isAvailable()) {
          throw new IllegalStateException(key + ": openssl required but it does not load: "
            + OpenSsl.unavailabilityCause());
        }
        yield SslProvider.OPENSSL;
      }
      case AUTO -> OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
    };
  }

  /** How the start-up log names a provider. */
  static String describe(SslProvider provider) {
    return provider == SslProvider.JDK ? "JDK (" + System.getProperty("java.vendor") + " "
      + System.getProperty("java.version") + ")" : "OpenSSL (" + OpenSsl.versionString() + ", netty-tcnative)";
  }

  /**
   * Reads and checks the files.
   *
   * @param keys the config keys of the two files, for the message of a {@link ConfigException}
   */
  static TlsMaterial read(String certificateFile, String keyFile, String certificateKey, String keyKey) {
    byte[] cert = readFile(certificateFile, certificateKey);
    byte[] key = readFile(keyFile, keyKey);
    List<X509Certificate> chain;
    try {
      chain = CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(cert)).stream()
        .map(X509Certificate.class::cast).toList();
    } catch (GeneralSecurityException e) {
      throw new ConfigException(certificateKey, certificateFile + " is no PEM certificate chain: " + e.getMessage());
    }
    if (chain.isEmpty()) {
      throw new ConfigException(certificateKey, certificateFile + " holds no certificate");
    }
    PrivateKey privateKey = privateKey(new String(key, StandardCharsets.US_ASCII), keyFile, keyKey);
    if (!matches(privateKey, chain.get(0))) {
      throw new ConfigException(keyKey, keyFile + " is not the private key of the first certificate in "
        + certificateFile);
    }
    byte[] both = new byte[cert.length + key.length];
    System.arraycopy(cert, 0, both, 0, cert.length);
    System.arraycopy(key, 0, both, cert.length, key.length);
    return new TlsMaterial(chain, privateKey, both);
  }

  /** The two files' contents, to compare with {@link #bytes()} (a reload reads them again only when they changed). */
  static byte[] contents(String certificateFile, String keyFile) throws IOException {
    byte[] cert = Files.readAllBytes(Path.of(certificateFile));
    byte[] key = Files.readAllBytes(Path.of(keyFile));
    byte[] both = new byte[cert.length + key.length];
    System.arraycopy(cert, 0, both, 0, cert.length);
    System.arraycopy(key, 0, both, cert.length, key.length);
    return both;
  }

  X509Certificate leaf() {
    return chain.get(0);
  }

  /** The leaf's subject and validity, for the log. */
  String describe() {
    X509Certificate leaf = leaf();
    return "subject " + leaf.getSubjectX500Principal().getName() + ", valid until " + leaf.getNotAfter().toInstant();
  }

  private static byte[] readFile(String file, String key) {
    try {
      return Files.readAllBytes(Path.of(file));
    } catch (IOException e) {
      throw new ConfigException(key, "cannot read " + file + ": " + e.getMessage());
    }
  }

  private static PrivateKey privateKey(String pem, String file, String key) {
    Matcher m = PKCS8.matcher(pem);
    if (!m.find()) {
      Matcher other = OTHER_KEY.matcher(pem);
      String kind = other.find() ? "a \"BEGIN " + other.group(1) + "PRIVATE KEY\" key" : "no PEM private key";
      throw new ConfigException(key, file + " holds " + kind + ", not PKCS#8 (\"BEGIN PRIVATE KEY\"): convert it "
        + "with openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8 (cert-manager: privateKey.encoding: PKCS8)");
    }
    byte[] der;
    try {
      der = Base64.getMimeDecoder().decode(m.group(1).replaceAll("\\s", ""));
    } catch (IllegalArgumentException e) {
      throw new ConfigException(key, file + ": the PEM key is not valid base64");
    }
    for (String algorithm : new String[] {"RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS"}) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
      } catch (GeneralSecurityException wrongAlgorithm) {
        // try the next
      }
    }
    throw new ConfigException(key, file + ": a PKCS#8 key of none of RSA, EC, Ed25519, Ed448, RSASSA-PSS");
  }

  /** True when a signature by {@code key} verifies with the certificate's public key (false when it cannot tell). */
  private static boolean matches(PrivateKey key, X509Certificate cert) {
    String algorithm = switch (key.getAlgorithm()) {
      case "RSA" -> "SHA256withRSA";
      case "EC" -> "SHA256withECDSA";
      case "Ed25519", "Ed448", "EdDSA" -> key.getAlgorithm();
      default -> null;
    };
    if (algorithm == null) {
      return true;
    }
    try {
      byte[] nonce = new byte[32];
      new SecureRandom().nextBytes(nonce);
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(nonce);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(cert.getPublicKey());
      verifier.update(nonce);
      return verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }
}
