package io.agentguard.collector;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import java.io.File;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Date;

/** Certificates made by the tests themselves (never committed): a CA, a server, clients. */
public final class TestPki {
    public final Path dir;
    private final KeyPair caKeys;
    private final X509CertificateHolder ca;
    private long serial = 1;

    public TestPki(Path dir) throws Exception {
        this.dir = dir;
        caKeys = keys();
        X500Name name = new X500Name("CN=agentguard test CA");
        var builder = new JcaX509v3CertificateBuilder(name, BigInteger.valueOf(serial++), from(), until(), name,
                caKeys.getPublic());
        builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
        ca = builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(caKeys.getPrivate()));
        write("ca.pem", ca);
    }

    public File caFile() {
        return dir.resolve("ca.pem").toFile();
    }

    /** Writes NAME.pem and NAME.key (PKCS#8) for a leaf certificate with CN and localhost SANs. */
    public void issue(String fileName, String commonName) throws Exception {
        issueSubject(fileName, "CN=" + commonName);
    }

    /** As {@link #issue}, with any subject (e.g. two CNs). */
    public void issueSubject(String fileName, String subject) throws Exception {
        KeyPair keys = keys();
        var builder = new JcaX509v3CertificateBuilder(ca.getSubject(), BigInteger.valueOf(serial++), from(), until(),
                new X500Name(subject), keys.getPublic());
        builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
            new GeneralName(GeneralName.dNSName, "localhost"), new GeneralName(GeneralName.iPAddress, "127.0.0.1")}));
        write(fileName + ".pem", builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(caKeys.getPrivate())));
        write(fileName + ".key", keys.getPrivate());
    }

    public File cert(String name) {
        return dir.resolve(name + ".pem").toFile();
    }

    public File key(String name) {
        return dir.resolve(name + ".key").toFile();
    }

    private static KeyPair keys() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(256);
        return g.generateKeyPair();
    }

    private static Date from() {
        return Date.from(Instant.now().minus(1, ChronoUnit.HOURS));
    }

    private static Date until() {
        return Date.from(Instant.now().plus(1, ChronoUnit.DAYS));
    }

    private void write(String name, Object pem) throws Exception {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter p = new JcaPEMWriter(w)) {
            if (pem instanceof PrivateKey k) {
                p.writeObject(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(k, null));
            } else {
                p.writeObject(pem);
            }
        }
        Files.writeString(dir.resolve(name), w.toString());
    }
}
