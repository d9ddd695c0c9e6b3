//! The hypervisor's own name, as the CPU reports it to a guest (CPUID leaf
//! 0x40000000), when sysfs does not say.

/// The signature a hypervisor puts in CPUID leaf 0x40000000, decoded; None
/// on bare metal (CPUID.1:ECX bit 31 clear) or on other architectures.
pub fn hypervisor() -> Option<String> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::__cpuid;
        // SAFETY: CPUID exists on every x86_64 CPU and only reads
        // identification registers; leaf 1 and the hypervisor leaf are
        // defined for every guest (a bare-metal CPU answers leaf 1 with
        // bit 31 clear, and the hypervisor leaf is then not read).
        #[allow(unused_unsafe)]
        let (features, leaf) = unsafe {
            let features = __cpuid(1);
            let present = features.ecx & (1 << 31) != 0;
            (present, present.then(|| __cpuid(0x4000_0000)))
        };
        let leaf = leaf.filter(|_| features)?;
        let bytes: Vec<u8> = [leaf.ebx, leaf.ecx, leaf.edx]
            .iter()
            .flat_map(|r| r.to_le_bytes())
            .collect();
        Some(name_of(&bytes))
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// A signature as people know the hypervisor, keeping the raw signature.
fn name_of(signature: &[u8]) -> String {
    let raw: String = signature
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                ' '
            }
        })
        .collect();
    let raw = raw.trim().to_string();
    let known = [
        ("KVMKVMKVM", "KVM"),
        ("Microsoft Hv", "Hyper-V"),
        ("VMwareVMware", "VMware"),
        ("XenVMMXenVMM", "Xen"),
        ("TCGTCGTCGTCG", "QEMU (TCG emulation)"),
        ("VBoxVBoxVBox", "VirtualBox"),
        ("ACRNACRNACRN", "ACRN"),
        ("bhyve bhyve", "bhyve"),
        ("lrpepyh  vr", "Parallels"),
        ("QNXQVMBSQG", "QNX"),
        ("Linux KVM Hv", "KVM (Hyper-V enlightenments)"),
    ];
    match known.iter().find(|(sig, _)| raw.starts_with(sig)) {
        Some((_, name)) => format!("{name} (CPUID signature \"{raw}\")"),
        None if raw.is_empty() => "a hypervisor with an empty CPUID signature".to_string(),
        None => format!("CPUID signature \"{raw}\""),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_are_named() {
        assert_eq!(
            super::name_of(b"KVMKVMKVM\0\0\0"),
            "KVM (CPUID signature \"KVMKVMKVM\")"
        );
        assert!(super::name_of(b"Microsoft Hv").starts_with("Hyper-V"));
        assert_eq!(
            super::name_of(b"ABCDEFGHIJKL"),
            "CPUID signature \"ABCDEFGHIJKL\""
        );
    }
}
