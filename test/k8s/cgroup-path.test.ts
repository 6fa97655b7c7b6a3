import { describe, expect, it } from 'vitest';
import { parseCgroupPath, parseProcCgroup } from '../../src/processors/k8sattributes/cgroup-path.js';

const ID = '3f1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a';
const UID = '8d1c7f3e-2b4a-4c6d-9e8f-0a1b2c3d4e5f';
const UID_ = UID.replaceAll('-', '_');

describe('cgroup path parsing', () => {
  it.each([
    ['containerd, systemd driver (v2)', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`, { containerId: ID, podUid: UID }],
    ['containerd, guaranteed QoS, systemd driver', `/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope`, { containerId: ID, podUid: UID }],
    ['containerd, cgroupfs driver (v1)', `/kubepods/besteffort/pod${UID}/${ID}`, { containerId: ID, podUid: UID }],
    ['CRI-O', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-${ID}.scope`, { containerId: ID, podUid: UID }],
    ['Docker, systemd', `/system.slice/docker-${ID}.scope`, { containerId: ID }],
    ['Docker, cgroupfs', `/docker/${ID}`, { containerId: ID }],
    ['podman', `/machine.slice/libpod-${ID}.scope/container`, { containerId: ID }],
    ['pod sandbox slice only', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`, { podUid: UID }],
    ['CRI-O conmon is not the container', `/kubepods.slice/kubepods-pod${UID_}.slice/crio-conmon-${ID}.scope`, { podUid: UID }],
    ['host service', '/system.slice/sshd.service', {}],
    ['root', '/', {}],
  ])('%s', (_name, path, want) => {
    expect(parseCgroupPath(path)).toEqual(want);
  });

  it('prefers the v2 line, then the first v1 hierarchy naming a container', () => {
    const v1only = ['12:pids:/kubepods/burstable/pod' + UID + '/' + ID, '11:memory:/kubepods/burstable/pod' + UID + '/' + ID, '0::/'].join('\n');
    expect(parseProcCgroup(v1only)).toEqual({ containerId: ID, podUid: UID });
    const other = 'a'.repeat(64);
    const both = [`4:memory:/docker/${other}`, `0::/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope`, ''].join('\n');
    expect(parseProcCgroup(both)).toEqual({ containerId: ID, podUid: UID });
    expect(parseProcCgroup('0::/user.slice/user-0.slice/session-1.scope\n')).toEqual({});
    expect(parseProcCgroup('garbage')).toEqual({});
  });
});
