/**
 * The hand-written Helm template renderer (test/deploy-helm-renderer.ts) is only worth trusting for the
 * chart tests if it renders its subset the way helm does; each expectation here is what `helm template`
 * prints for the same input.
 */
import { goString, renderString, TemplateError } from './deploy-helm-renderer';

const root = {
  Values: {
    a: { b: 'x', n: 3, big: 1000000, rate: 0.15, list: ['p', 'q'], map: { z: 1, b: 2 } },
    empty: '',
    off: false,
  },
  Release: { Name: 'rel' },
};

describe('helm template subset renderer', () => {
  test('whitespace trimming with {{- and -}}', () => {
    expect(renderString('a:\n  {{- .Values.a.b }}\nb', root)).toBe('a:x\nb');
    expect(renderString('a {{ .Values.a.b -}}\n\n  b', root)).toBe('a xb');
    expect(renderString('{{/* a comment */}}x{{- /* trimmed */ -}}  y', root)).toBe('xy');
  });

  test('if / else if / else and truthiness like Go', () => {
    const t = '{{ if .Values.off }}1{{ else if .Values.empty }}2{{ else if .Values.a.list }}3{{ else }}4{{ end }}';
    expect(renderString(t, root)).toBe('3');
    expect(renderString('{{ if .Values.a.missing }}y{{ else }}n{{ end }}', root)).toBe('n');
    expect(renderString('{{ if and .Values.off .Values.off.deeper }}y{{ else }}n{{ end }}', root)).toBe('n');
    expect(renderString('{{ or .Values.empty "fallback" }}', root)).toBe('fallback');
  });

  test('range over lists and maps (keys sorted), with, variables and $', () => {
    expect(renderString('{{ range $i, $v := .Values.a.list }}{{ $i }}={{ $v }};{{ end }}', root)).toBe('0=p;1=q;');
    expect(renderString('{{ range $k, $v := .Values.a.map }}{{ $k }}{{ $v }}{{ end }}', root)).toBe('b2z1');
    expect(renderString('{{ range .Values.nothing }}x{{ else }}none{{ end }}', root)).toBe('none');
    expect(renderString('{{ with .Values.a }}{{ .b }}-{{ $.Release.Name }}{{ end }}', root)).toBe('x-rel');
    expect(renderString('{{ $x := "one" }}{{ if true }}{{ $x = "two" }}{{ end }}{{ $x }}', root)).toBe('two');
  });

  test('define, include, template, pipelines, parentheses and the Helm functions the chart uses', () => {
    const partials =
      '{{- define "name" -}}{{ printf "%s-%s" .Release.Name "app" | trunc 63 | trimSuffix "-" }}{{- end }}';
    expect(renderString('n: {{ include "name" . }}', root, partials)).toBe('n: rel-app');
    expect(renderString('{{ template "name" . }}', root, partials)).toBe('rel-app');
    expect(renderString('m:{{ .Values.a.map | toYaml | nindent 2 }}', root)).toBe('m:\n  b: 2\n  z: 1');
    expect(
      renderString('{{ .Values.a.b | quote }} {{ default "d" .Values.empty }} {{ default "d" .Values.a.b }}', root),
    ).toBe('"x" d x');
    expect(renderString('{{ (include "name" .) | b64enc }}', root, partials)).toBe(
      Buffer.from('rel-app').toString('base64'),
    );
    expect(renderString('{{ gt (int .Values.a.n) 1 }} {{ eq .Values.a.b "x" "y" }} {{ not .Values.off }}', root)).toBe(
      'true true true',
    );
    expect(renderString('{{ randAlphaNum 32 }}', root)).toMatch(/^[A-Za-z0-9]{32}$/);
  });

  test('numbers print like Go float64, the Helm trap that int64 avoids', () => {
    expect(goString(600000)).toBe('600000');
    expect(goString(1000000)).toBe('1e+06');
    expect(goString(1048576)).toBe('1.048576e+06');
    expect(goString(0.15)).toBe('0.15');
    expect(renderString('{{ .Values.a.big | quote }} {{ .Values.a.big | int64 | quote }}', root)).toBe(
      '"1e+06" "1000000"',
    );
  });

  test('errors instead of silent wrong output', () => {
    expect(() => renderString('{{ .Values.missing.deeper }}', root)).toThrow(/nil pointer evaluating/);
    expect(renderString('[{{ .Values.missing }}]', root)).toBe('[]');
    expect(() => renderString('{{ .Values.missing }}', root, '', true)).toThrow(/no entry for key "missing"/);
    expect(() => renderString('{{ fail "no way" }}', root)).toThrow(/fail: no way/);
    expect(() => renderString('{{ gt .Values.a.n 1 }}', root)).toThrow(/incompatible types/);
    expect(() => renderString('{{ required "need x" .Values.empty }}', root)).toThrow(/need x/);
    expect(() => renderString('{{ tpl "x" . }}', root)).toThrow(TemplateError);
    expect(() => renderString('{{ if true }}open', root)).toThrow(/missing \{\{ end \}\}/);
    expect(() => renderString('{{ block "b" . }}{{ end }}', root)).toThrow(/not supported/);
  });
});
