package io.agentguard.net;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.InetAddress;

import static org.assertj.core.api.Assertions.assertThat;

class IpAddressesTest {
    @ParameterizedTest
    @CsvSource({
        "127.66.0.1, 127.66.0.1",
        "::1, ::1",
        "::, ::",
        "2001:db8:0:0:1:0:0:1, 2001:db8::1:0:0:1",
        "2001:db8:0:1:1:1:1:1, 2001:db8:0:1:1:1:1:1",
        "fd00:ec2:0:0:0:0:0:254, fd00:ec2::254",
        "fe80:0:0:0:0:0:0:0, fe80::",
    })
    void formatsLikeRfc5952(String input, String expected) throws Exception {
        assertThat(IpAddresses.format(InetAddress.getByName(input).getAddress())).isEqualTo(expected);
    }

    @ParameterizedTest
    @CsvSource({"1.2.3.4"})
    void ipv4MappedIpv6KeepsItsPrefix(String v4) throws Exception {
        byte[] raw = new byte[16];
        raw[10] = (byte) 0xff;
        raw[11] = (byte) 0xff;
        System.arraycopy(InetAddress.getByName(v4).getAddress(), 0, raw, 12, 4);
        assertThat(IpAddresses.format(raw)).isEqualTo("::ffff:" + v4);
    }
}
