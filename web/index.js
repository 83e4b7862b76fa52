// Shows whether the server answers, from /healthz.
const status = document.getElementById('status');
try {
  const res = await fetch('/healthz', { cache: 'no-store' });
  const health = await res.json();
  status.textContent = `En ligne — version ${health.version}, ${health.rooms} salle(s) ouverte(s).`;
} catch {
  status.textContent = 'Le serveur ne répond pas.';
}
