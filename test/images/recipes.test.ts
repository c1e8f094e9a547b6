// Image recipes (issue 24): an instructor's own image, `<name>.yaml` in ~/.config/vnetlab/images (or
// VNETLAB_IMAGE_RECIPES) that extends debian with more packages. What it resolves to, that it is a
// separate image with its own hash, and the mistakes it refuses at file:line. (Building one is the
// debian build with a longer package list: test/images/rootless.test.ts and the image build tests.)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { imageStatus } from '../../src/main/images/build.ts';
import { availableImages, loadManifest, manifestHash, recipeDirs } from '../../src/main/images/manifest.ts';

const dir = mkdtempSync(join(tmpdir(), 'vnl-recipes-'));
const env = { ...process.env, VNETLAB_IMAGE_RECIPES: dir, VNETLAB_IMAGE_DIR: join(dir, 'cache') };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('image recipes', () => {
  it('a recipe extends debian: its packages are added, the rest is debian\'s, and it has a hash of its own', () => {
    writeFileSync(join(dir, 'course.yaml'), 'name: course\nextends: debian\ndescription: the debian image and a mail client\npackages:\n  - mutt\n  - squid\n');
    const debian = loadManifest('debian', env);
    const course = loadManifest('course', env);
    expect(course).toMatchObject({ name: 'course', extends: 'debian', base: 'debootstrap', suite: 'bookworm', variant: 'minbase', description: 'the debian image and a mail client', minMemoryMiB: debian.minMemoryMiB, sizeBytes: debian.sizeBytes });
    expect(course.packages).toEqual([...debian.packages, 'mutt']); // squid is debian's already
    expect(course.files).toEqual([join(dir, 'course.yaml'), debian.file]);
    expect(manifestHash('course', env)).not.toBe(manifestHash('debian', env));
    expect(availableImages({ recipes: true, env })).toEqual(['course', 'debian', 'tiny']);
    expect(availableImages({ env })).toEqual(['debian', 'tiny']);
    expect(imageStatus('course', { env })).toMatchObject({ name: 'course', built: false, staleReason: 'not built' });
    // Changing the recipe makes its image stale; debian's hash does not depend on it.
    const before = [manifestHash('course', env), manifestHash('debian', env)];
    writeFileSync(join(dir, 'course.yaml'), 'name: course\nextends: debian\npackages: [mutt, lynx]\n');
    expect(manifestHash('course', env)).not.toBe(before[0]);
    expect(manifestHash('debian', env)).toBe(before[1]);
    expect(loadManifest('course', env).description).toMatch(/, and mutt, lynx$/);
  });

  it('refuses what a recipe cannot say, at its line; the project\'s images cannot be shadowed', () => {
    writeFileSync(join(dir, 'bad1.yaml'), 'name: bad1\nextends: tiny\npackages: [mutt]\n');
    expect(() => loadManifest('bad1', env)).toThrow(`${join(dir, 'bad1.yaml')}:2: 'tiny' is not built from Debian packages: extend 'debian'`);
    writeFileSync(join(dir, 'bad2.yaml'), 'name: bad2\nextends: debian\nsuite: trixie\n');
    expect(() => loadManifest('bad2', env)).toThrow(`${join(dir, 'bad2.yaml')}:3: a recipe that extends 'debian' takes its suite from it; leave suite out`);
    writeFileSync(join(dir, 'loop.yaml'), 'name: loop\nextends: loop\n');
    expect(() => loadManifest('loop', env)).toThrow(/loop\.yaml:2: extends must name another image/);
    writeFileSync(join(dir, 'bad3.yaml'), 'name: bad3\nextends: debian\npackages: ["rm -rf /"]\n');
    expect(() => loadManifest('bad3', env)).toThrow(/bad3\.yaml:3: packages must be a list of Debian package names/);
    writeFileSync(join(dir, 'debian.yaml'), 'name: debian\nextends: debian\npackages: [mutt]\n');
    expect(loadManifest('debian', env).file).toMatch(/kernels\/images\/debian\.yaml$/);
    expect(() => loadManifest('nosuch', env)).toThrow("there is no image called 'nosuch'");
  });

  it('the recipes folder is ~/.config/vnetlab/images unless VNETLAB_IMAGE_RECIPES says otherwise', () => {
    expect(recipeDirs({ HOME: '/home/teacher' })).toEqual(['/home/teacher/.config/vnetlab/images']);
    expect(recipeDirs({ HOME: '/home/teacher', XDG_CONFIG_HOME: '/cfg' })).toEqual(['/cfg/vnetlab/images']);
    expect(recipeDirs({ VNETLAB_IMAGE_RECIPES: '/a:/b' })).toEqual(['/a', '/b']);
  });
});
