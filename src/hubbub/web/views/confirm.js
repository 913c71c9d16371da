// "Are you sure?" for what cannot be undone from here (leaving a group, logging out): a
// modal <dialog>, so focus stays inside it and Escape cancels; focus goes back to what
// opened it. Resolves true only for the confirming button.
export function askConfirm({ title, body, confirm, opener }) {
  return new Promise((resolve) => {
    const dlg = document.createElement('dialog');
    dlg.className = 'confirm';
    dlg.setAttribute('aria-labelledby', 'confirm-title');
    dlg.setAttribute('aria-describedby', 'confirm-body');
    const h = document.createElement('h2');
    h.id = 'confirm-title';
    h.textContent = title;
    const p = document.createElement('p');
    p.id = 'confirm-body';
    p.textContent = body;
    const row = document.createElement('div');
    row.className = 'row';
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.textContent = 'Cancel';
    const ok = document.createElement('button');
    ok.type = 'button';
    ok.className = 'danger';
    ok.textContent = confirm;
    row.append(cancel, ok);
    dlg.append(h, p, row);
    let answer = false;
    cancel.addEventListener('click', () => dlg.close());
    ok.addEventListener('click', () => { answer = true; dlg.close(); });
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(answer);
    });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus(); // the safe choice has focus: Enter by habit does not leave the group
  });
}
